using System.Text.Json.Serialization;

namespace CrateRun.Core.Oci;

/// <summary>
/// The OCI container state (runtime.md "State"): printed by `state` and piped to hooks on stdin.
/// </summary>
public sealed class OciState
{
    /// <summary>REQUIRED.</summary>
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    /// <summary>REQUIRED. Container ID.</summary>
    [JsonPropertyName("id")]
    public string Id { get; set; } = "";

    /// <summary>REQUIRED. One of <see cref="OciStatus"/>'s values.</summary>
    [JsonPropertyName("status")]
    public string Status { get; set; } = "";

    /// <summary>Host PID of the container process; always written (0 once stopped, as runc does).</summary>
    [JsonPropertyName("pid")]
    public int Pid { get; set; }

    /// <summary>REQUIRED. Absolute path to the bundle directory.</summary>
    [JsonPropertyName("bundle")]
    public string Bundle { get; set; } = "";

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>The runtime.md status values.</summary>
public static class OciStatus
{
    public const string Creating = "creating";
    public const string Created = "created";
    public const string Running = "running";
    public const string Stopped = "stopped";
}

/// <summary>
/// What a seccomp agent receives on linux.seccomp.listenerPath (config-linux.md "The
/// Container Process State"), with the listener fd attached (SCM_RIGHTS).
/// </summary>
public sealed class ContainerProcessState
{
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    [JsonPropertyName("fds")]
    public List<string> Fds { get; set; } = [];

    [JsonPropertyName("pid")]
    public int Pid { get; set; }

    [JsonPropertyName("metadata")]
    public string? Metadata { get; set; }

    [JsonPropertyName("state")]
    public OciState State { get; set; } = new();
}
