using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CrateRun.Core.State;

/// <summary>The limits asked for, kept for ps/inspect.</summary>
public sealed class ContainerLimits
{
    public long? MemoryBytes { get; set; }
    public long? Pids { get; set; }
    public long? CpuQuota { get; set; }
    public ulong? CpuPeriod { get; set; }
}

/// <summary>
/// A container's metadata.json: what the runtime knows of it. The OCI state (runtime.md)
/// is derived from it; so are ps and inspect.
/// </summary>
public sealed class ContainerRecord
{
    public string Id { get; set; } = "";
    public string? Name { get; set; }
    /// <summary>The bundle directory: config.json lives there.</summary>
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public List<string> Command { get; set; } = [];
    public string Status { get; set; } = ContainerStatus.Creating;
    /// <summary>Host pid of the container's process (0 before create).</summary>
    public int Pid { get; set; }
    /// <summary>Its start time in clock ticks (/proc/PID/stat field 22), so a reused pid is not mistaken for it.</summary>
    public ulong PidStartTime { get; set; }
    /// <summary>Pid of the monitor that waits for it (Docker-like face), 0 when none.</summary>
    public int MonitorPid { get; set; }
    /// <summary>The monitor's start time (clock ticks), so a reused pid is not waited for as the monitor.</summary>
    public ulong MonitorStartTime { get; set; }
    public DateTimeOffset Created { get; set; }
    public DateTimeOffset? Started { get; set; }
    public DateTimeOffset? Finished { get; set; }
    public int? ExitCode { get; set; }
    public bool OomKilled { get; set; }
    public bool AutoRemove { get; set; }
    public bool Tty { get; set; }
    public string? Hostname { get; set; }
    public ContainerLimits Limits { get; set; } = new();
    /// <summary>Controller (or "unified") to the absolute cgroup directory.</summary>
    public Dictionary<string, string> CgroupPaths { get; set; } = [];
    /// <summary>Ancestors of those directories that the runtime made (--cgroup-parent), removed with them when unused.</summary>
    public List<string>? CgroupCreatedParents { get; set; }
    public Dictionary<string, string>? Annotations { get; set; }
    /// <summary>The config's poststart/poststop hooks, kept here so that start and delete need not parse config.json.</summary>
    public Oci.Hooks? Hooks { get; set; }
    /// <summary>
    /// Set when the container's output stopped reaching its logs: the disk under the state root
    /// filled up, or the monitor that copies it is gone. Null while logs are complete.
    /// </summary>
    public string? LogsStopped { get; set; }
    /// <summary>The face that created it: "docker" (craterun run) or "oci" (craterun-oci create).</summary>
    public string Face { get; set; } = "docker";
    /// <summary>How it is networked (craterun run --network/-p/--dns/--add-host); null: the OCI face, the config decides.</summary>
    public Network.NetworkSettings? Network { get; set; }
    /// <summary>Docker's labels (--label, --label-file): key to value, for ps --filter label=... and inspect.</summary>
    public Dictionary<string, string>? Labels { get; set; }
    /// <summary>Made by <c>craterun create</c>: a failed start leaves it (exited, with the code) instead of removing it.</summary>
    public bool KeepOnFailure { get; set; }
    /// <summary>How often the container was started again (start of an exited one, restart).</summary>
    public int RestartCount { get; set; }
    /// <summary>--stop-signal: what stop sends first (null: the image's, else SIGTERM).</summary>
    public string? StopSignal { get; set; }
    /// <summary>--stop-timeout: seconds stop waits before SIGKILL (null: 10).</summary>
    public int? StopTimeout { get; set; }
    /// <summary>--restart (Docker's form: "on-failure:3", "always", "unless-stopped"); null: no.</summary>
    public string? RestartPolicy { get; set; }
    /// <summary>Stopped or killed by the user (stop, kill, rm -f): no restart policy brings it back until it is started again.</summary>
    public bool StoppedByUser { get; set; }
    /// <summary>--ipc: private, shareable, none, host or container:ID (null: made before it was kept, private).</summary>
    public string? IpcMode { get; set; }
    /// <summary>--health-cmd and its flags; null: no health check.</summary>
    public HealthCheck? Healthcheck { get; set; }
    /// <summary>The health check's state (Docker's State.Health), filled in by ps and inspect from its file.</summary>
    public HealthState? Health { get; set; }
}

/// <summary>Docker's HEALTHCHECK of a container: the command run in it (as exec does) every interval.</summary>
public sealed class HealthCheck
{
    /// <summary>["CMD-SHELL", "cmd"] (--health-cmd) or ["CMD", argv...].</summary>
    public List<string> Test { get; set; } = [];
    public long IntervalMs { get; set; }
    public long TimeoutMs { get; set; }
    public int Retries { get; set; }
    public long StartPeriodMs { get; set; }
}

/// <summary>Docker's State.Health: starting, healthy or unhealthy, the failures in a row, the last probes.</summary>
public sealed class HealthState
{
    public string Status { get; set; } = "starting";
    public int FailingStreak { get; set; }
    public List<HealthProbe> Log { get; set; } = [];
}

/// <summary>One run of the health command: when, its exit code (-1: it could not run or timed out), its output (at most 4 KiB).</summary>
public sealed class HealthProbe
{
    public DateTimeOffset Start { get; set; }
    public DateTimeOffset End { get; set; }
    public int ExitCode { get; set; }
    public string Output { get; set; } = "";
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerRecord))]
[JsonSerializable(typeof(List<ContainerRecord>))]
[JsonSerializable(typeof(HealthState))]
public sealed partial class StateJsonContext : JsonSerializerContext;

/// <summary>
/// The same, for writing only: straight-line generated code (the "fast path"), without the
/// run-time metadata set-up that the first use of <see cref="StateJsonContext"/> costs a fresh process.
/// </summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Serialization, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerRecord))]
[JsonSerializable(typeof(List<ContainerRecord>))]
[JsonSerializable(typeof(HealthState))]
public sealed partial class StateJsonWriteContext : JsonSerializerContext
{
    private static readonly JsonWriterOptions IndentedWriter = new() { Indented = true };

    /// <summary>
    /// A metadata.json: the generated fast-path code (ContainerRecordSerializeHandler) called
    /// directly, without the root JsonTypeInfo that <see cref="JsonSerializer"/> builds first (a
    /// custom attribute scan of ContainerRecord, its converter, the options cache: ~0.3 ms of
    /// every command that saves a record). The same bytes as
    /// <c>JsonSerializer.SerializeToUtf8Bytes(record, Default.ContainerRecord)</c> (a test compares them).
    /// </summary>
    public static byte[] SerializeRecord(ContainerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var writer = new Utf8JsonWriter(buffer, IndentedWriter))
        {
            Default.ContainerRecordSerializeHandler(writer, record);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
