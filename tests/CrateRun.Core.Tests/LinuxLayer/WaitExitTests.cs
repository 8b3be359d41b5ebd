using System.Runtime.InteropServices;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// Processes.WaitExit takes a process as gone only when the kernel says so (ESRCH): any other
/// pidfd_open failure must not let `stop` skip its SIGKILL or `delete` remove a live cgroup.
/// </summary>
public sealed partial class WaitExitTests
{
    [LibraryImport("libc")]
    private static partial int gettid();

    [Fact]
    public void A_live_task_whose_pidfd_cannot_be_opened_is_not_taken_as_gone()
    {
        // pidfd_open fails with EINVAL for a thread that is not a group leader: a live task
        // /proc still shows, like any process pidfd_open could fail for (EMFILE, ENOMEM)
        using var release = new ManualResetEventSlim();
        var tid = 0;
        var thread = new Thread(() => { Volatile.Write(ref tid, gettid()); release.Wait(); });
        thread.Start();
        while (Volatile.Read(ref tid) == 0) Thread.Sleep(1);
        try
        {
            Assert.True(Processes.IsAlive(tid, 0));
            Assert.False(Processes.WaitExit(tid, 0, 300), "a live task was reported gone");
        }
        finally
        {
            release.Set();
            thread.Join();
        }
    }

    [Fact]
    public void A_process_that_is_gone_is_gone()
    {
        using var p = System.Diagnostics.Process.Start("/bin/true")!;
        p.WaitForExit();
        Assert.True(Processes.WaitExit(p.Id, 0, 5000));
    }
}
