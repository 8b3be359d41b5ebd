using System.Globalization;
using System.Text;
using CrateRun.Core;
using CrateRun.Core.Explain;

namespace CrateRun.Linux.Engine;

/// <summary>What a message on a monitor's control socket is: its first byte (CRT_MON_* in Native/monitor_messages.h).</summary>
public enum MonitorMessageKind : byte
{
    Explain = (byte)'V',
    AssignStdio = (byte)'F',
    Container = (byte)'C',
    Terminal = (byte)'P',
    Started = (byte)'S',
    Failed = (byte)'E',
    Exited = (byte)'X',
}

/// <summary>
/// The messages between the CLI (<c>craterun run</c>, <c>craterun start</c>) and a container's
/// monitor on the monitor's control socket (its fd 3; SOCK_SEQPACKET, one message per packet).
/// Each kind and its fields are defined here and, for monitor.c, in Native/monitor_messages.h
/// (MonitorMessageTests checks that the two agree); nothing else writes or reads one.
/// A message that does not parse is a <see cref="BadMonitorMessageException"/>: one line.
/// </summary>
public abstract record MonitorMessage
{
    /// <summary>Between the fields: a tab in the CLI's messages (they carry paths), a space in the monitor's.</summary>
    public const char SepToMonitor = '\t', SepToCli = ' ';

    /// <summary>The FLAGS field of <see cref="Container"/>: three characters, each its letter or <see cref="FlagUnset"/>.</summary>
    public const char FlagInteractive = 'i', FlagTty = 't', FlagDetached = 'd', FlagUnset = '-';

    /// <summary>The third of <see cref="Started"/>'s FLAGS (its first two are <see cref="FlagInteractive"/> and <see cref="FlagDetached"/>).</summary>
    public const char FlagRestarts = 'r';

    public abstract MonitorMessageKind Kind { get; }

    /// <summary>Whether this kind travels with an fd (SCM_RIGHTS): it is part of the message.</summary>
    public virtual bool CarriesFd => false;

    /// <summary>Sent by the CLI to the monitor (else by the monitor to the CLI).</summary>
    public bool ToMonitor => Kind is MonitorMessageKind.Explain or MonitorMessageKind.AssignStdio or MonitorMessageKind.Container;

    /// <summary>The message as it goes over the socket.</summary>
    public abstract string Encode();

    /// <summary>V\tFORMAT + the fd to write to: <c>run --explain</c>; the monitor explains in FORMAT.</summary>
    public sealed record ExplainTo(ExplainFormat Format) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Explain;
        public override bool CarriesFd => true;
        public override string Encode() => $"{(char)Kind}{SepToMonitor}{Format}";
    }

    /// <summary>F0, F1, F2 + an fd: the monitor's stdin, stdout or stderr (those of an attached CLI).</summary>
    public sealed record AssignStdio(int Stream) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.AssignStdio;
        public override bool CarriesFd => true;
        public override string Encode() => $"{(char)Kind}{Stream}";
    }

    /// <summary>C\tROOT\tID\tFLAGS\tCGROUPS-PATH: the registered container the monitor creates, starts and watches.</summary>
    public sealed record Container(string Root, string Id, bool Interactive, bool Tty, string CgroupsPath, bool Detached = false) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Container;

        public override string Encode()
        {
            if (new[] { Root, Id, CgroupsPath }.FirstOrDefault(f => f.Contains(SepToMonitor)) is { } bad)
                throw new CrateRunException($"cannot hand {bad} to a monitor: it contains a tab");
            var flags = $"{(Interactive ? FlagInteractive : FlagUnset)}{(Tty ? FlagTty : FlagUnset)}{(Detached ? FlagDetached : FlagUnset)}";
            return string.Join(SepToMonitor, (char)Kind, Root, Id, flags, CgroupsPath);
        }
    }

    /// <summary>P + the container's pty master (-t).</summary>
    public sealed record TerminalMaster : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Terminal;
        public override bool CarriesFd => true;
        public override string Encode() => $"{(char)Kind}";
    }

    /// <summary>
    /// S PID FLAGS: the container runs. FLAGS tell the CLI's front (run_front.c) what to do now:
    /// make its terminal raw (<paramref name="Interactive"/>, with a pty), end at once
    /// (<paramref name="Detached"/>: run -d), or not wait for the monitor after the exit
    /// (<paramref name="Restarts"/>: a restart policy keeps it).
    /// </summary>
    public sealed record Started(int Pid, bool Interactive = false, bool Detached = false, bool Restarts = false) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Started;

        public override string Encode() =>
            $"{(char)Kind}{SepToCli}{Pid}{SepToCli}{(Interactive ? FlagInteractive : FlagUnset)}{(Detached ? FlagDetached : FlagUnset)}{(Restarts ? FlagRestarts : FlagUnset)}";
    }

    /// <summary>E CODE MESSAGE: the container did not start; the CLI says MESSAGE (may be empty) and exits with CODE.</summary>
    public sealed record Failed(int Code, string Message) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Failed;
        public override string Encode() => $"{(char)Kind}{SepToCli}{Code}{SepToCli}{Message}";
    }

    /// <summary>X CODE: the container exited; CODE is the attached CLI's exit code (monitor.c sends it too).</summary>
    public sealed record Exited(int Code) : MonitorMessage
    {
        public override MonitorMessageKind Kind => MonitorMessageKind.Exited;
        public override string Encode() => $"{(char)Kind}{SepToCli}{Code}";
    }

    /// <summary>Reads a message; throws <see cref="BadMonitorMessageException"/> (naming the problem) if it is none.</summary>
    public static MonitorMessage Decode(string text)
    {
        if (text.Length == 0) throw Bad(text, "it is empty");
        var rest = text[1..];
        return (MonitorMessageKind)(text[0] < 128 ? text[0] : 0) switch
        {
            MonitorMessageKind.Explain => new ExplainTo(FormatOf(Fields(text, SepToMonitor, 1)[0], text)),
            MonitorMessageKind.AssignStdio => rest is "0" or "1" or "2" ? new AssignStdio(rest[0] - '0') : throw Bad(text, $"{text[0]} takes the stream, 0, 1 or 2"),
            MonitorMessageKind.Container => ContainerOf(Fields(text, SepToMonitor, 4), text),
            MonitorMessageKind.Terminal => rest.Length == 0 ? new TerminalMaster() : throw Bad(text, $"{text[0]} has no fields"),
            MonitorMessageKind.Started => StartedOf(Fields(text, SepToCli, 2), text),
            MonitorMessageKind.Exited => new Exited(Number(Fields(text, SepToCli, 1)[0], text, 0, 255, "exit code")),
            MonitorMessageKind.Failed => FailedOf(text),
            _ => throw Bad(text, $"no message starts with '{Shown(text[..1])}'"),
        };
    }

    /// <summary>CLI side: the next message from the monitor, and the fd it carries (-1 if it carries none). Null when the monitor is gone.</summary>
    public static MonitorMessage? ReceiveFromMonitor(int sock, out int fd) => Receive(sock, toMonitor: false, out fd);

    /// <summary>Monitor side: the next message from the CLI, and the fd it carries (-1 if it carries none). Null when the CLI is gone.</summary>
    public static MonitorMessage? ReceiveFromCli(int sock, out int fd) => Receive(sock, toMonitor: true, out fd);

    /// <summary>Sends the message (with <paramref name="fd"/> if it carries one). False if the peer is gone.</summary>
    public bool SendTo(int sock, int fd = -1)
    {
        if (CarriesFd != fd >= 0) throw new ArgumentException($"a {Kind} message {(CarriesFd ? "carries" : "carries no")} fd", nameof(fd));
        return UnixSockets.Send(sock, Encode(), fd);
    }

    private static MonitorMessage? Receive(int sock, bool toMonitor, out int fd)
    {
        var text = UnixSockets.Receive(sock, out fd);
        if (text is null) return null;
        MonitorMessage message;
        try
        {
            message = Decode(text);
            if (message.ToMonitor != toMonitor) throw Bad(text, $"{(char)message.Kind} is sent {(toMonitor ? "by the monitor" : "to the monitor")}");
            if (message.CarriesFd && fd < 0) throw Bad(text, $"{(char)message.Kind} comes with an fd, and none came");
        }
        catch (BadMonitorMessageException)
        {
            CloseReceived(ref fd);
            throw;
        }
        if (!message.CarriesFd) CloseReceived(ref fd); // none was meant to come: not ours to keep
        return message;
    }

    private static void CloseReceived(ref int fd)
    {
        if (fd >= 0) Interop.Sys.close(fd);
        fd = -1;
    }

    /// <summary>The COUNT fields after the kind, separated by SEP; one more or fewer is a bad message.</summary>
    private static string[] Fields(string text, char sep, int count)
    {
        if (text.Length < 2 || text[1] != sep) throw Bad(text, $"{text[0]} takes {count} field{(count > 1 ? "s" : "")}, after '{Shown(sep.ToString())}'");
        var fields = text[2..].Split(sep);
        if (fields.Length != count) throw Bad(text, $"{text[0]} takes {count} field{(count > 1 ? "s" : "")}, not {fields.Length}");
        return fields;
    }

    private static Container ContainerOf(string[] f, string text)
    {
        var flags = f[2];
        if (f[0].Length == 0 || f[1].Length == 0) throw Bad(text, $"{text[0]} needs a ROOT and an ID");
        if (flags.Length != 3 || flags[0] is not (FlagInteractive or FlagUnset) || flags[1] is not (FlagTty or FlagUnset) || flags[2] is not (FlagDetached or FlagUnset))
            throw Bad(text, $"{text[0]}'s FLAGS are three characters, '{FlagInteractive}' or '{FlagUnset}', '{FlagTty}' or '{FlagUnset}', then '{FlagDetached}' or '{FlagUnset}'");
        return new Container(f[0], f[1], flags[0] == FlagInteractive, flags[1] == FlagTty, f[3], flags[2] == FlagDetached);
    }

    private static Started StartedOf(string[] f, string text)
    {
        var flags = f[1];
        if (flags.Length != 3 || flags[0] is not (FlagInteractive or FlagUnset) || flags[1] is not (FlagDetached or FlagUnset) || flags[2] is not (FlagRestarts or FlagUnset))
            throw Bad(text, $"{text[0]}'s FLAGS are three characters, '{FlagInteractive}' or '{FlagUnset}', '{FlagDetached}' or '{FlagUnset}', then '{FlagRestarts}' or '{FlagUnset}'");
        return new Started(Number(f[0], text, 1, int.MaxValue, "PID"), flags[0] == FlagInteractive, flags[1] == FlagDetached, flags[2] == FlagRestarts);
    }

    private static Failed FailedOf(string text)
    {
        if (text.Length < 2 || text[1] != SepToCli) throw Bad(text, $"{text[0]} takes a CODE and a MESSAGE");
        var parts = text[2..].Split(SepToCli, 2);
        return new Failed(Number(parts[0], text, 0, 255, "exit code"), parts.Length > 1 ? parts[1] : "");
    }

    private static ExplainFormat FormatOf(string name, string text) =>
        Enum.GetNames<ExplainFormat>().Contains(name) ? Enum.Parse<ExplainFormat>(name)
            : throw Bad(text, $"{text[0]} takes an explain format ({string.Join(", ", Enum.GetNames<ExplainFormat>())})");

    private static int Number(string field, string text, int min, int max, string what) =>
        int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max ? n
            : throw Bad(text, $"{text[0]}'s {what} is a number from {min} to {max}");

    private static BadMonitorMessageException Bad(string text, string problem) => new($"\"{Shown(text)}\": {problem}");

    /// <summary>The text on one line: control characters escaped, at most 80 of them.</summary>
    private static string Shown(string text)
    {
        var s = new StringBuilder();
        foreach (var c in text.Length > 80 ? text[..80] : text)
            s.Append(c switch { '\t' => "\\t", '\n' => "\\n", '"' => "\\\"", _ when char.IsControl(c) => $"\\x{(int)c:x2}", _ => c.ToString() });
        return text.Length > 80 ? s + "..." : s.ToString();
    }
}

/// <summary>A message on a monitor's control socket that is none (an unknown kind, a missing or bad field): one line naming it.</summary>
public sealed class BadMonitorMessageException(string detail)
    : CrateRunException($"a message on the monitor's control socket that craterun does not understand: {detail}");
