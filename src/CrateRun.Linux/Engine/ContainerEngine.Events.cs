using CrateRun.Core.Docker;
using CrateRun.Core.State;

namespace CrateRun.Linux.Engine;

/// <summary>
/// Docker's events: the engine appends each lifecycle step of a Docker-face container to
/// ROOT/.events (one JSON line each, O_APPEND, one write per line so concurrent writers never
/// interleave); `craterun events` reads and follows it.
/// </summary>
public sealed partial class ContainerEngine
{
    public const string EventLog = ".events";

    public string EventLogPath => Path.Combine(Store.Root, EventLog);

    /// <summary>Appends an event of <paramref name="r"/> (only the Docker face's containers have events); never fails the step itself.</summary>
    private void Emit(ContainerRecord r, string action, params (string Key, string Value)[] extra)
    {
        if (r.Face != "docker") return;
        var attributes = new Dictionary<string, string>(r.Labels ?? []);
        attributes["image"] = r.Annotations?.GetValueOrDefault(Images.ImageRootfs.ImageAnnotation) ?? r.Rootfs;
        if (r.Name is { } name) attributes["name"] = name;
        foreach (var (k, v) in extra) attributes[k] = v;
        var line = new ContainerEvent(ContainerEvent.NanosOf(DateTimeOffset.UtcNow), action, r.Id, attributes).ToLogLine();
        AppendLine(EventLogPath, line);
    }

    /// <summary>
    /// Docker's exec_create and exec_start ("exec_create: sh -c date", with execID), just before
    /// the process is launched: our exec is made and started in one step.
    /// </summary>
    private void EmitExecStarting(ContainerRecord r, ExecOptions o)
    {
        var command = ContainerEvent.ExecCommand(o.Process.Args ?? []);
        Emit(r, "exec_create: " + command, ("execID", o.ExecId));
        Emit(r, "exec_start: " + command, ("execID", o.ExecId));
    }

    private void EmitExecDie(ContainerRecord r, string execId, int exitCode) =>
        Emit(r, "exec_die", ("execID", execId), ("exitCode", exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>An exec's process ended (whoever reaped it reports it): Docker's exec_die with its exit code.</summary>
    public void RecordExecExit(string id, string execId, int exitCode)
    {
        if (Store.TryLoad(id) is { } r) EmitExecDie(r, execId, exitCode);
    }

    /// <summary>`restart` brought the container back: Docker's restart event, after its stop and start.</summary>
    public void RecordRestart(string id)
    {
        if (Store.TryLoad(id) is { } r) Emit(r, "restart");
    }

    /// <summary>A probe changed the container's health: Docker's "health_status: healthy|unhealthy".</summary>
    internal void RecordHealthStatus(ContainerRecord r, string status) => Emit(r, "health_status: " + status);

    private static unsafe void AppendLine(string path, byte[] line)
    {
        var bytes = new byte[line.Length + 1];
        line.CopyTo(bytes, 0);
        bytes[^1] = (byte)'\n';
        const int O_APPEND = 0x400;
        var fd = Interop.Sys.open(path, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | O_APPEND | Interop.Sys.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0) return; // a state root that cannot take the event still runs the container
        using var h = new SafeFd(fd);
        fixed (byte* p = bytes) Interop.Sys.write(fd, p, bytes.Length);
    }

    /// <summary>
    /// The events logged from byte <paramref name="offset"/> on (complete lines only), and the
    /// offset after the last one read: a follower passes it back to get the next ones.
    /// </summary>
    public List<ContainerEvent> ReadEvents(ref long offset)
    {
        var list = new List<ContainerEvent>();
        byte[] data;
        try
        {
            using var file = new FileStream(EventLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (file.Length <= offset) return list;
            file.Position = offset;
            data = new byte[file.Length - offset];
            file.ReadExactly(data);
        }
        catch (FileNotFoundException) { return list; }
        catch (DirectoryNotFoundException) { return list; }
        var start = 0;
        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] != (byte)'\n') continue;
            if (ContainerEvent.FromLogLine(data.AsSpan(start, i - start)) is { } e) list.Add(e);
            start = i + 1;
        }
        offset += start; // a line still being written is read next time
        return list;
    }
}
