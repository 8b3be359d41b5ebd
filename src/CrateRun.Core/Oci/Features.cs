using System.Text.Json.Serialization;

namespace CrateRun.Core.Oci;

// features.md: the document printed by `features`. For every field null means "unknown",
// not "unsupported", so everything is nullable and omitted when null.

/// <summary>The root of the `features` output.</summary>
public sealed class Features
{
    /// <summary>Lowest recognized spec version, e.g. "1.0.0".</summary>
    [JsonPropertyName("ociVersionMin")]
    public string? OciVersionMin { get; set; }

    /// <summary>Highest recognized spec version, e.g. "1.2.0".</summary>
    [JsonPropertyName("ociVersionMax")]
    public string? OciVersionMax { get; set; }

    /// <summary>Recognized hook names, e.g. "createRuntime".</summary>
    [JsonPropertyName("hooks")]
    public List<string>? Hooks { get; set; }

    /// <summary>Recognized mount options, e.g. "ro".</summary>
    [JsonPropertyName("mountOptions")]
    public List<string>? MountOptions { get; set; }

    [JsonPropertyName("linux")]
    public FeaturesLinux? Linux { get; set; }

    /// <summary>Implementation-specific values (e.g. "org.opencontainers.runc.version").</summary>
    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>config.json annotations that may be unsafe; an entry ending in "." is a prefix.</summary>
    [JsonPropertyName("potentiallyUnsafeConfigAnnotations")]
    public List<string>? PotentiallyUnsafeConfigAnnotations { get; set; }
}

/// <summary>features.linux</summary>
public sealed class FeaturesLinux
{
    /// <summary>Recognized namespace types, e.g. "mount".</summary>
    [JsonPropertyName("namespaces")]
    public List<string>? Namespaces { get; set; }

    /// <summary>Recognized capabilities, e.g. "CAP_SYS_ADMIN".</summary>
    [JsonPropertyName("capabilities")]
    public List<string>? Capabilities { get; set; }

    [JsonPropertyName("cgroup")]
    public FeaturesCgroup? Cgroup { get; set; }

    [JsonPropertyName("seccomp")]
    public FeaturesSeccomp? Seccomp { get; set; }

    [JsonPropertyName("apparmor")]
    public FeaturesApparmor? Apparmor { get; set; }

    [JsonPropertyName("selinux")]
    public FeaturesSelinux? Selinux { get; set; }

    [JsonPropertyName("intelRdt")]
    public FeaturesIntelRdt? IntelRdt { get; set; }

    [JsonPropertyName("mountExtensions")]
    public FeaturesMountExtensions? MountExtensions { get; set; }
}

/// <summary>features.linux.cgroup: what support is compiled in (not what the host has).</summary>
public sealed class FeaturesCgroup
{
    [JsonPropertyName("v1")]
    public bool? V1 { get; set; }

    [JsonPropertyName("v2")]
    public bool? V2 { get; set; }

    [JsonPropertyName("systemd")]
    public bool? Systemd { get; set; }

    [JsonPropertyName("systemdUser")]
    public bool? SystemdUser { get; set; }

    [JsonPropertyName("rdma")]
    public bool? Rdma { get; set; }
}

/// <summary>features.linux.seccomp</summary>
public sealed class FeaturesSeccomp
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }

    /// <summary>e.g. "SCMP_ACT_NOTIFY".</summary>
    [JsonPropertyName("actions")]
    public List<string>? Actions { get; set; }

    /// <summary>e.g. "SCMP_CMP_NE".</summary>
    [JsonPropertyName("operators")]
    public List<string>? Operators { get; set; }

    /// <summary>e.g. "SCMP_ARCH_X86_64".</summary>
    [JsonPropertyName("archs")]
    public List<string>? Archs { get; set; }

    /// <summary>Recognized filter flags, e.g. "SECCOMP_FILTER_FLAG_LOG".</summary>
    [JsonPropertyName("knownFlags")]
    public List<string>? KnownFlags { get; set; }

    /// <summary>Subset of <see cref="KnownFlags"/> the kernel/runtime actually supports.</summary>
    [JsonPropertyName("supportedFlags")]
    public List<string>? SupportedFlags { get; set; }
}

/// <summary>features.linux.apparmor</summary>
public sealed class FeaturesApparmor
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }
}

/// <summary>features.linux.selinux</summary>
public sealed class FeaturesSelinux
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }
}

/// <summary>features.linux.intelRdt</summary>
public sealed class FeaturesIntelRdt
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }
}

/// <summary>features.linux.mountExtensions</summary>
public sealed class FeaturesMountExtensions
{
    [JsonPropertyName("idmap")]
    public FeaturesIdMap? IdMap { get; set; }
}

/// <summary>features.linux.mountExtensions.idmap</summary>
public sealed class FeaturesIdMap
{
    [JsonPropertyName("enabled")]
    public bool? Enabled { get; set; }
}
