using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using CrateRun.Core.Explain;
using CrateRun.Linux;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>The CLI ↔ monitor messages: Native/monitor_messages.h (monitor.c) and MonitorMessage.cs say the same.</summary>
public partial class MonitorMessageTests
{
    private static readonly Lazy<string> Header = new(() => File.ReadAllText(Repo.File("src/CrateRun.Linux/Native/monitor_messages.h")));

    /// <summary>NAME → the character of every "#define CRT_MON_NAME 'c'" in the header.</summary>
    private static Dictionary<string, char> HeaderCharacters()
    {
        var map = new Dictionary<string, char>();
        foreach (Match m in Regex.Matches(Header.Value, @"#define\s+CRT_MON_(\w+)\s+'(\\t|[^'\\])'"))
            map[Key(m.Groups[1].Value)] = m.Groups[2].Value == "\\t" ? '\t' : m.Groups[2].Value[0];
        return map;
    }

    /// <summary>ASSIGN_STDIO / AssignStdio → ASSIGNSTDIO.</summary>
    private static string Key(string name) => name.Replace("_", "").ToUpperInvariant();

    private static readonly HashSet<string> NotKinds = ["SEPTOMONITOR", "SEPTOCLI", "FLAGINTERACTIVE", "FLAGTTY", "FLAGDETACHED", "FLAGUNSET", "FLAGRESTARTS"];

    [Fact]
    public void Every_kind_has_the_header_s_letter_and_no_kind_is_missing_on_either_side()
    {
        var c = HeaderCharacters().Where(kv => !NotKinds.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => (long)kv.Value);
        var cs = Enum.GetValues<MonitorMessageKind>().ToDictionary(k => Key(k.ToString()), k => (long)k);
        Assert.Equal(7, c.Count);
        Assert.Equal(c.OrderBy(kv => kv.Key), cs.OrderBy(kv => kv.Key));
    }

    [Fact]
    public void Separators_and_flags_are_the_header_s()
    {
        var c = HeaderCharacters().Where(kv => NotKinds.Contains(kv.Key)).ToDictionary();
        var cs = typeof(MonitorMessage).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(char))
            .ToDictionary(f => Key(f.Name), f => (char)f.GetRawConstantValue()!);
        Assert.Equal(NotKinds.Count, c.Count);
        Assert.Equal(c.OrderBy(kv => kv.Key), cs.OrderBy(kv => kv.Key));
    }

    /// <summary>The message monitor.c sends itself (its exec of the exit phase failed), as the CLI reads it.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(137)]
    [InlineData(255)]
    public unsafe void The_exited_message_of_monitor_c_is_the_one_the_cli_reads(int code)
    {
        var buffer = stackalloc byte[16];
        var length = Interop.Monitor.crt_exited_message(buffer, 16, code);
        var text = Encoding.UTF8.GetString(buffer, length);
        Assert.Equal(new MonitorMessage.Exited(code), MonitorMessage.Decode(text));
        Assert.Equal(new MonitorMessage.Exited(code).Encode(), text);
    }

    /// <summary>wait(2)'s status: the exit status in bits 8-15; a signal's number in bits 0-6 (bit 7: a core dump).</summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(7 << 8, 7)]
    [InlineData(9, 137)]
    [InlineData(0x80 | 11, 139)]
    [InlineData(-1, 125)]
    public void Exit_code_arithmetic_is_monitor_c_s(int status, int code)
    {
        Assert.Equal(code, Interop.Monitor.crt_exit_code(status));
        Assert.Equal(code, Processes.ExitCode(status));
    }

    public static TheoryData<MonitorMessage, string> Messages => new()
    {
        { new MonitorMessage.ExplainTo(ExplainFormat.Json), "V\tJson" },
        { new MonitorMessage.AssignStdio(0), "F0" },
        { new MonitorMessage.AssignStdio(2), "F2" },
        { new MonitorMessage.Container("/var/lib/craterun", "abc123", Interactive: true, Tty: false, "/craterun/abc123"), "C\t/var/lib/craterun\tabc123\ti--\t/craterun/abc123" },
        { new MonitorMessage.Container("/a root/with spaces", "x", Interactive: false, Tty: true, ""), "C\t/a root/with spaces\tx\t-t-\t" },
        { new MonitorMessage.Container("/r", "y", Interactive: true, Tty: false, "/cg", Detached: true), "C\t/r\ty\ti-d\t/cg" },
        { new MonitorMessage.TerminalMaster(), "P" },
        { new MonitorMessage.Started(4242), "S 4242 ---" },
        { new MonitorMessage.Started(7, Interactive: true, Restarts: true), "S 7 i-r" },
        { new MonitorMessage.Started(9, Detached: true), "S 9 -d-" },
        { new MonitorMessage.Failed(127, "exec: \"nope\": executable file not found in $PATH"), "E 127 exec: \"nope\": executable file not found in $PATH" },
        { new MonitorMessage.Failed(125, ""), "E 125 " },
        { new MonitorMessage.Exited(0), "X 0" },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Messages_read_back_as_written(MonitorMessage message, string wire)
    {
        Assert.Equal(wire, message.Encode());
        Assert.Equal(message, MonitorMessage.Decode(wire));
    }

    /// <summary>The front of `run` (run_front.c) reads the monitor's messages with monitor_messages.c's decoder: it reads what the managed side writes.</summary>
    [Theory]
    [MemberData(nameof(Messages))]
    public void The_c_front_reads_every_message_of_the_monitor_as_written(MonitorMessage message, string wire)
    {
        if (message.ToMonitor) return; // the front reads the monitor's messages only
        var decoded = DecodeInC(wire, message.CarriesFd);
        Assert.NotNull(decoded);
        var (kind, number, flags, text) = decoded.Value;
        Assert.Equal((char)message.Kind, kind);
        switch (message)
        {
            case MonitorMessage.Started s:
                Assert.Equal(s.Pid, number);
                Assert.Equal(wire[^3..], flags);
                break;
            case MonitorMessage.Failed f:
                Assert.Equal((f.Code, f.Message), (number, text));
                break;
            case MonitorMessage.Exited x:
                Assert.Equal(x.Code, number);
                break;
        }
    }

    /// <summary>What the managed decoder refuses from the monitor, the C one refuses too (and an fd where none belongs, or none where one does).</summary>
    [Theory]
    [InlineData("S", false)]
    [InlineData("S 12", false)]
    [InlineData("S 0 ---", false)]
    [InlineData("S 12x ---", false)]
    [InlineData("S 1 d--", false)]
    [InlineData("S 1 i-r-", false)]
    [InlineData("S 1 --- x", false)]
    [InlineData("S 1 ---", true)]
    [InlineData("X", false)]
    [InlineData("X 256", false)]
    [InlineData("X 3 ", false)]
    [InlineData("E", false)]
    [InlineData("E x boom", false)]
    [InlineData("P 3", true)]
    [InlineData("P", false)]
    [InlineData("C\t/r\tid\t---\t", false)]
    [InlineData("Q 1", false)]
    public void The_c_front_refuses_what_is_no_message_of_the_monitor(string wire, bool withFd) =>
        Assert.Null(DecodeInC(wire, withFd));

    private static unsafe (char Kind, int Number, string Flags, string Text)? DecodeInC(string wire, bool withFd)
    {
        var bytes = Encoding.UTF8.GetBytes(wire + "\0");
        CMonitorMessage m;
        fixed (byte* p = bytes)
        {
            if (crt_decode_from_monitor(p, withFd ? 1 : 0, &m) != 0) return null;
            var flags = Encoding.ASCII.GetString(m.Flags, 3).TrimEnd('\0');
            return ((char)m.Kind, m.Number, flags, System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)m.Text) ?? "");
        }
    }

    /// <summary>struct crt_mon_message (monitor_messages.h), laid out by the compiler as C lays it out.</summary>
    private unsafe struct CMonitorMessage
    {
        public byte Kind;
        public int Number;
        public fixed byte Flags[4];
        public byte* Text;
    }

    [System.Runtime.InteropServices.LibraryImport("craterun_native")]
    private static unsafe partial int crt_decode_from_monitor(byte* text, int hasFd, CMonitorMessage* m);

    [Fact]
    public void A_failed_message_without_its_text_still_reads() =>
        Assert.Equal(new MonitorMessage.Failed(126, ""), MonitorMessage.Decode("E 126"));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Q 1", "no message starts with 'Q'")]
    [InlineData("s 1", "no message starts with 's'")]
    [InlineData("\u0146", "no message starts with")] // not 'F' (0x46) with its high byte dropped
    [InlineData("F", "F takes the stream")]
    [InlineData("F3", "F takes the stream")]
    [InlineData("F12", "F takes the stream")]
    [InlineData("C\t/root\tid", "C takes 4 fields, not 2")]
    [InlineData("C\t/root\tid\ti-\t/cg\textra", "C takes 4 fields, not 5")]
    [InlineData("C /root id i- /cg", "C takes 4 fields, after '\\t'")]
    [InlineData("C\t\tid\ti-\t/cg", "C needs a ROOT and an ID")]
    [InlineData("C\t/root\tid\tit--\t/cg", "FLAGS")]
    [InlineData("C\t/root\tid\tit\t/cg", "FLAGS")]
    [InlineData("C\t/root\tid\tx-\t/cg", "FLAGS")]
    [InlineData("V\tyaml", "explain format")]
    [InlineData("V", "V takes 1 field")]
    [InlineData("P 3", "P has no fields")]
    [InlineData("S", "S takes 2 fields")]
    [InlineData("S 12", "S takes 2 fields, not 1")]
    [InlineData("S  ---", "PID is a number")]
    [InlineData("S 0 ---", "PID is a number")]
    [InlineData("S -5 ---", "PID is a number")]
    [InlineData("S 12x ---", "PID is a number")]
    [InlineData("S 1 2", "FLAGS")]
    [InlineData("S 1 d--", "FLAGS")]
    [InlineData("S 1 i-r-", "FLAGS")]
    [InlineData("S 1 --- x", "S takes 2 fields, not 3")]
    [InlineData("X", "X takes 1 field")]
    [InlineData("X 256", "exit code is a number from 0 to 255")]
    [InlineData("X abc", "exit code is a number")]
    [InlineData("E", "E takes a CODE and a MESSAGE")]
    [InlineData("E x boom", "exit code is a number")]
    public void A_bad_message_is_one_line_naming_it(string wire, string problem)
    {
        var e = Assert.Throws<BadMonitorMessageException>(() => MonitorMessage.Decode(wire));
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\t', e.Message); // shown as \t
        Assert.Equal(ExitCodes.RuntimeError, e.ExitCode);
    }

    [Fact]
    public void A_field_that_holds_the_separator_is_refused_before_it_is_sent() =>
        Assert.Contains("tab", Assert.Throws<CrateRunException>(() => new MonitorMessage.Container("/r\too", "id", false, false, "").Encode()).Message);

    private static unsafe (SafeFd Cli, SafeFd Monitor) SeqPacketPair()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Interop.Sys.socketpair(Interop.Sys.AF_UNIX, Interop.Sys.SOCK_SEQPACKET | Interop.Sys.SOCK_CLOEXEC, 0, fds));
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    [Fact]
    public void Messages_and_their_fds_cross_the_socket()
    {
        var (cli, monitor) = SeqPacketPair();
        using (cli)
        using (monitor)
        {
            Assert.True(new MonitorMessage.AssignStdio(1).SendTo(cli.Fd, 1));
            Assert.Equal(new MonitorMessage.AssignStdio(1), MonitorMessage.ReceiveFromCli(monitor.Fd, out var fd));
            Assert.True(fd > 2);
            using (new SafeFd(fd)) { }

            Assert.True(new MonitorMessage.Started(77, Detached: true).SendTo(monitor.Fd));
            Assert.Equal(new MonitorMessage.Started(77, Detached: true), MonitorMessage.ReceiveFromMonitor(cli.Fd, out fd));
            Assert.Equal(-1, fd);

            cli.Dispose();
            Assert.Null(MonitorMessage.ReceiveFromCli(monitor.Fd, out _));
        }
    }

    [Fact]
    public void A_message_that_needs_an_fd_and_has_none_is_bad() =>
        AssertBadOnTheSocket("F1", withFd: false, toMonitor: true, "comes with an fd");

    [Fact]
    public void A_message_the_other_way_is_bad_and_its_fd_is_closed() =>
        AssertBadOnTheSocket("P", withFd: true, toMonitor: true, "P is sent by the monitor");

    [Fact]
    public void A_message_for_the_monitor_that_reaches_the_cli_is_bad() =>
        AssertBadOnTheSocket("C\t/r\tid\t---\t", withFd: false, toMonitor: false, "C is sent to the monitor");

    [Fact]
    public void An_unknown_message_with_an_fd_is_bad_and_the_fd_is_closed() =>
        AssertBadOnTheSocket("Z", withFd: true, toMonitor: false, "no message starts with 'Z'");

    /// <summary>WIRE (with the write end of a pipe, if WITHFD) is refused; the receiver keeps no copy of the write end.</summary>
    private static unsafe void AssertBadOnTheSocket(string wire, bool withFd, bool toMonitor, string problem)
    {
        var (sender, receiver) = SeqPacketPair();
        int* p = stackalloc int[2];
        Assert.Equal(0, Interop.Sys.pipe2(p, Interop.Sys.O_CLOEXEC | Interop.Sys.O_NONBLOCK));
        using var pipeRead = new SafeFd(p[0]);
        using (sender)
        using (receiver)
        using (var pipeWrite = new SafeFd(p[1]))
        {
            Assert.True(UnixSockets.Send(sender.Fd, wire, withFd ? pipeWrite.Fd : -1));
            var e = Assert.Throws<BadMonitorMessageException>(() =>
                toMonitor ? MonitorMessage.ReceiveFromCli(receiver.Fd, out _) : MonitorMessage.ReceiveFromMonitor(receiver.Fd, out _));
            Assert.Contains(problem, e.Message);
        }
        byte b;
        Assert.Equal((nint)0, Interop.Sys.read(pipeRead.Fd, &b, 1)); // end of file: no write end is left open (else EAGAIN)
    }
}
