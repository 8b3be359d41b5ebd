using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

public class SignalsTests
{
    [Theory]
    [InlineData("9", 9)]
    [InlineData(" 15 ", 15)]
    [InlineData("64", 64)]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("sigkill", 9)]
    [InlineData("term", 15)]
    [InlineData("HUP", 1)]
    [InlineData("INT", 2)]
    [InlineData("QUIT", 3)]
    [InlineData("ABRT", 6)]
    [InlineData("IOT", 6)]
    [InlineData("SIGIOT", 6)]
    [InlineData("BUS", 7)]
    [InlineData("USR1", 10)]
    [InlineData("SEGV", 11)]
    [InlineData("USR2", 12)]
    [InlineData("PIPE", 13)]
    [InlineData("ALRM", 14)]
    [InlineData("STKFLT", 16)]
    [InlineData("CHLD", 17)]
    [InlineData("CONT", 18)]
    [InlineData("STOP", 19)]
    [InlineData("TSTP", 20)]
    [InlineData("WINCH", 28)]
    [InlineData("IO", 29)]
    [InlineData("POLL", 29)]
    [InlineData("PWR", 30)]
    [InlineData("SYS", 31)]
    [InlineData("RTMIN", 34)]
    [InlineData("SIGRTMIN", 34)]
    [InlineData("RTMIN+0", 34)]
    [InlineData("RTMIN+1", 35)]
    [InlineData("rtmin+3", 37)]
    [InlineData("SIGRTMIN+30", 64)]
    [InlineData("RTMAX", 64)]
    [InlineData("RTMAX-1", 63)]
    [InlineData("SIGRTMAX-30", 34)]
    [InlineData("0", 0)] // kill(2)'s "does it exist": runc accepts it, containerd and scripts send it
    public void Parse_names_and_numbers(string text, int expected) => Assert.Equal(expected, Signals.Parse(text));

    [Theory]
    [InlineData("65")]
    [InlineData("-9")]
    [InlineData("")]
    [InlineData("SIG")]
    [InlineData("FOO")]
    [InlineData("SIGFOO")]
    [InlineData("RTMIN+31")]
    [InlineData("RTMIN-1")]
    [InlineData("RTMINX")]
    [InlineData("RTMAX+1")]
    [InlineData("RTMAX-31")]
    [InlineData("RTMAX1")]
    public void Parse_rejects_the_rest(string text) =>
        Assert.Contains("signal", Assert.Throws<UsageException>(() => Signals.Parse(text)).Message);
}

public class ExitCodeTests
{
    [Theory]
    [InlineData(0, 0)]            // exit(0)
    [InlineData(1 << 8, 1)]       // exit(1)
    [InlineData(42 << 8, 42)]     // exit(42)
    [InlineData(255 << 8, 255)]   // exit(-1)
    [InlineData(9, 137)]          // killed by SIGKILL
    [InlineData(15, 143)]         // killed by SIGTERM
    [InlineData(0x80 | 11, 139)]  // SIGSEGV with a core dump
    [InlineData(0x80 | 6, 134)]   // SIGABRT with a core dump
    [InlineData(2, 130)]          // SIGINT
    [InlineData(-1, 125)]         // the wait failed
    public void Wait_status_to_shell_code(int status, int expected) => Assert.Equal(expected, Processes.ExitCode(status));
}

public class CloneFlagsTests
{
    [Theory]
    [InlineData("pid", 0x20000000UL, "pid")]
    [InlineData("network", 0x40000000UL, "net")]
    [InlineData("mount", 0x00020000UL, "mnt")]
    [InlineData("ipc", 0x08000000UL, "ipc")]
    [InlineData("uts", 0x04000000UL, "uts")]
    [InlineData("user", 0x10000000UL, "user")]
    [InlineData("cgroup", 0x02000000UL, "cgroup")]
    [InlineData("time", 0x00000080UL, "time")]
    public void Of_maps_oci_types_to_clone_flags_and_proc_ns_files(string type, ulong flag, string file) =>
        Assert.Equal((flag, file), CloneFlags.Of(type));

    [Theory]
    [InlineData("net")]
    [InlineData("mnt")]
    [InlineData("PID")]
    [InlineData("")]
    public void Unknown_types_are_refused(string type) =>
        Assert.Contains("namespace type", Assert.Throws<UsageException>(() => CloneFlags.Of(type)).Message);

    [Fact]
    public void Flags_are_distinct_bits()
    {
        var flags = new[] { "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" }.Select(t => CloneFlags.Of(t).Flag).ToList();
        Assert.All(flags, f => Assert.Equal(1, System.Numerics.BitOperations.PopCount(f)));
        Assert.Equal(flags.Count, flags.Distinct().Count());
    }

    [Fact]
    public void Flags_match_linux_sched_h_when_the_kernel_headers_are_installed()
    {
        const string header = "/usr/include/linux/sched.h";
        if (!File.Exists(header)) return; // nothing to compare with on this machine
        var text = File.ReadAllText(header);
        var defined = System.Text.RegularExpressions.Regex.Matches(text, @"#define\s+(CLONE_NEW\w+)\s+(0x[0-9a-fA-F]+)")
            .ToDictionary(m => m.Groups[1].Value, m => Convert.ToUInt64(m.Groups[2].Value, 16));
        Assert.Equal(CloneFlags.NewNs, defined["CLONE_NEWNS"]);
        Assert.Equal(CloneFlags.NewCgroup, defined["CLONE_NEWCGROUP"]);
        Assert.Equal(CloneFlags.NewUts, defined["CLONE_NEWUTS"]);
        Assert.Equal(CloneFlags.NewIpc, defined["CLONE_NEWIPC"]);
        Assert.Equal(CloneFlags.NewUser, defined["CLONE_NEWUSER"]);
        Assert.Equal(CloneFlags.NewPid, defined["CLONE_NEWPID"]);
        Assert.Equal(CloneFlags.NewNet, defined["CLONE_NEWNET"]);
        if (defined.TryGetValue("CLONE_NEWTIME", out var time)) Assert.Equal(CloneFlags.NewTime, time);
    }
}
