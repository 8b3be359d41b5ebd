using System.Text.RegularExpressions;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Issue 9's leftovers, forced with strace: (1) the Launcher never signals a pid it has
/// already reaped (a reused pid would be hit); (2) the monitor's C waiting phase without a
/// pidfd (pidfd_open failing, as on kernels before 5.3) keeps pumping the container's output
/// and polls waitpid(WNOHANG): a container that fills its pipe must not deadlock with it.
/// strace is a test prerequisite (tests/install-prereqs.sh).
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class ReapedPidTests(CrateRunFixture f)
{
    private static readonly Regex Reaped = new(@"^(\d+)\s+wait4\((\d+),.*\)\s+=\s+(\d+)", RegexOptions.Compiled);
    private static readonly Regex Killed = new(@"^(\d+)\s+(?:kill|tgkill\(\d+,)\s*\(?(\d+), SIG", RegexOptions.Compiled);

    /// <summary>
    /// An exec joins the container's namespaces through an intermediate stage that the Launcher
    /// reaps once it reports the exec'd process; a setup failure after that (a cwd that does
    /// not exist) runs the Launcher's error path, which must not SIGKILL the reaped stage.
    /// </summary>
    [RootFact]
    public async Task A_failed_exec_never_signals_the_stage_it_already_reaped()
    {
        var id = await f.Detached("sleep 60");
        try
        {
            var trace = Path.Combine(f.TempBase, "exec-" + Guid.NewGuid().ToString("N")[..8] + ".strace");
            var r = await Proc.Run("strace", ["-f", "-qq", "-o", trace, "-e", "trace=wait4,kill,tgkill",
                f.Binary, "--root", f.StateRoot, "exec", "-w", "/no/such/dir", id, "--", "/bin/true"], timeout: TimeSpan.FromSeconds(60), env: f.Env);
            Assert.True(r.ExitCode != 0, "exec into a missing cwd should fail\n" + r);
            Assert.Contains("/no/such/dir", r.Stderr);
            var reaped = new HashSet<string>();
            var lines = Joined(await File.ReadAllLinesAsync(trace));
            Assert.Contains(lines, l => Reaped.IsMatch(l)); // the stage was reaped (else the test shows nothing)
            foreach (var line in lines)
            {
                if (Reaped.Match(line) is { Success: true } w && w.Groups[3].Value != "0") reaped.Add(w.Groups[3].Value);
                else if (Killed.Match(line) is { Success: true } k)
                    Assert.False(reaped.Contains(k.Groups[2].Value), $"pid {k.Groups[2].Value} was signalled after it was reaped:\n{line}\n{string.Join('\n', lines)}");
            }
        }
        finally
        {
            await f.RemoveForce(id);
        }
    }

    private static readonly Regex Unfinished = new(@"^(\d+)\s+(\w+\(.*?)\s*<unfinished \.\.\.>$", RegexOptions.Compiled);
    private static readonly Regex Resumed = new(@"^(\d+)\s+<\.\.\. (\w+) resumed>\s*(.*)$", RegexOptions.Compiled);

    /// <summary>
    /// strace -f splits a call that another thread's event interrupts into "TID call(args &lt;unfinished ...&gt;"
    /// and, later, "TID &lt;... call resumed&gt;rest"; joined here into one line where it completed.
    /// </summary>
    private static List<string> Joined(string[] lines)
    {
        var open = new Dictionary<string, string>();
        var joined = new List<string>();
        foreach (var line in lines)
        {
            if (Unfinished.Match(line) is { Success: true } u) open[u.Groups[1].Value] = u.Groups[2].Value;
            else if (Resumed.Match(line) is { Success: true } r && open.Remove(r.Groups[1].Value, out var head))
                joined.Add($"{r.Groups[1].Value} {head}{r.Groups[3].Value}");
            else joined.Add(line);
        }
        return joined;
    }

    /// <summary>
    /// pidfd_open fails (strace injects ENOSYS from its second call in each process, so the
    /// managed grace period, which needs one, still runs): the C waiting phase must keep
    /// pumping while it polls for the exit. The container writes 1 MB (far more than a pipe
    /// holds) after the grace period; blocking in waitpid before pumping deadlocks here.
    /// </summary>
    [RootFact]
    public async Task Without_a_pidfd_the_waiting_phase_pumps_a_container_that_fills_its_pipe()
    {
        var trace = Path.Combine(f.TempBase, "nopidfd-" + Guid.NewGuid().ToString("N")[..8] + ".strace");
        var cid = f.NewCidFile();
        var r = await Proc.Run("strace", ["-f", "-qq", "-o", trace, "-e", "trace=pidfd_open,execve", "-e", "inject=pidfd_open:error=ENOSYS:when=2+",
            f.Binary, "--root", f.StateRoot, "run", "--rm", "--cidfile", cid, "--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "sleep 1; head -c 1048576 /dev/zero | tr '\\0' x; echo; echo end"], timeout: TimeSpan.FromSeconds(40), env: f.Env);
        var lines = await File.ReadAllLinesAsync(trace);
        // the waiting phase ran, and its pidfd_open failed: the case under test did happen
        Assert.Contains(lines, l => l.Contains("_monitor-wait", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("pidfd_open(", StringComparison.Ordinal) && l.Contains("ENOSYS (Function not implemented) (INJECTED)", StringComparison.Ordinal));
        Assert.False(r.TimedOut, "the container and its monitor deadlocked on a full pipe\n" + string.Join('\n', lines.TakeLast(30)));
        Assert.True(r.ExitCode == 0, r.ToString()[..Math.Min(2000, r.ToString().Length)]);
        Assert.Equal(new string('x', 1048576) + "\nend\n", r.Stdout);
    }
}
