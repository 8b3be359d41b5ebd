using System.Text.Json.Serialization;

namespace CrateRun.Core.Explain;

/// <summary>
/// One step the runtime took to make a container, as `--explain` shows it: what it is for, in
/// plain words; the exact kernel call and its arguments; what it cost; and the page of docs/
/// that explains it. A failed step carries the errno and a hint.
/// </summary>
public sealed record ExplainEvent
{
    /// <summary>1, 2, 3... in the order shown.</summary>
    public int Seq { get; set; }
    /// <summary>Which part of container creation (the docs page's topic): namespaces, rootfs, cgroups...</summary>
    public required ExplainTopic Topic { get; init; }
    /// <summary>A stable short name of the step ("clone", "mount", "cgroup-write"...), for tools.</summary>
    public required string Step { get; init; }
    /// <summary>What happened, in plain words.</summary>
    public required string Text { get; init; }
    /// <summary>The exact kernel call(s) with their arguments.</summary>
    public required string Call { get; init; }
    /// <summary>Why the runtime does this (each clone flag, for instance), or null.</summary>
    public IReadOnlyList<string>? Why { get; init; }
    /// <summary>Microseconds the step took (monotonic clock, measured around the calls).</summary>
    public double Micros { get; init; }
    /// <summary>CLOCK_MONOTONIC at its start (ns): the order of steps done by different processes.</summary>
    [JsonIgnore]
    public long StartNs { get; init; }
    /// <summary>Who did it: "runtime" (C#), "child" (the C stage between clone and execve), "start".</summary>
    public string By { get; init; } = "runtime";
    /// <summary>Set when the step failed.</summary>
    public int? Errno { get; init; }
    public string? Error { get; init; }
    public string? Hint { get; init; }
    /// <summary>The docs page that explains it (docs/NAME.md).</summary>
    public string Docs => ExplainDocs.PageOf(Topic);
}

/// <summary>The parts of container creation, one docs page each.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExplainTopic>))]
public enum ExplainTopic
{
    Namespaces,
    Rootfs,
    ProcAndDev,
    Cgroups,
    Capabilities,
    Seccomp,
    UserNamespaces,
    Process,
    Monitor,
    OciLifecycle,
}

/// <summary>`--explain` (text) or `--explain=json` (one JSON object per line).</summary>
public enum ExplainFormat
{
    Text,
    Json,
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Default,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ExplainEvent))]
public sealed partial class ExplainJsonContext : JsonSerializerContext;
