using System.Text;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>/proc/PID/stat as proc(5) describes it: "pid (comm) state ppid ..." with starttime as field 22.</summary>
public class ProcStatTests
{
    // a line as the kernel writes it (52 fields); comm is whatever the process named itself
    private static string Line(string comm, char state = 'S', int ppid = 4000, ulong start = 123456789) =>
        $"4100 ({comm}) {state} {ppid} 4100 4100 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 {start} 1269760 66 18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    [Theory]
    [InlineData("sleep")]
    [InlineData("a b")]
    [InlineData("x) S 1 2 (y")] // comm may hold ") " itself: the fields start after the last ')'
    [InlineData("")]
    public void State_parent_and_start_time_come_after_the_last_parenthesis(string comm)
    {
        Assert.Equal(('S', 4000, 123456789UL), Processes.ParseStat(Encoding.UTF8.GetBytes(Line(comm))));
    }

    [Fact]
    public void A_zombie_keeps_its_state_letter() =>
        Assert.Equal(('Z', 1, 42UL), Processes.ParseStat(Encoding.UTF8.GetBytes(Line("defunct", 'Z', 1, 42))));

    [Theory]
    [InlineData("4100 (sleep")]
    [InlineData("4100 (sleep) S 4000 4100")] // cut short: no start time
    [InlineData("4100 (sleep) S x 4100")]
    public void A_line_that_is_not_whole_is_no_answer(string line) =>
        Assert.Null(Processes.ParseStat(Encoding.UTF8.GetBytes(line)));

    [Fact]
    public void This_process_reads_as_the_kernel_reports_it_in_status()
    {
        var status = File.ReadAllLines("/proc/self/status");
        var ppid = int.Parse(status.Single(l => l.StartsWith("PPid:", StringComparison.Ordinal))[5..].Trim());
        var stat = Processes.StatOf(Environment.ProcessId);
        Assert.NotNull(stat);
        Assert.Equal(ppid, stat.Value.ParentPid);
        Assert.NotEqual('Z', stat.Value.State);
        Assert.True(stat.Value.StartTime > 0);
    }
}
