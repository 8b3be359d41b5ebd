using System.Text.Json.Serialization;

namespace CrateRun.Core.Oci;

// OCI runtime-spec v1.2 config.json data model (config.md + config-linux.md).
//
// Mapping rules (mirroring the reference Go types in runtime-spec/specs-go):
//  * Go pointer / optional object or list  -> nullable C# type, omitted from output when null.
//  * Go plain value with `omitempty` (bool flags, scheduler numbers, valueTwo) -> non-nullable C# value
//    with [JsonIgnore(WhenWritingDefault)], so false/0 is not written (what runc writes).
//  * REQUIRED strings/objects -> non-nullable with a default ("" / new()), always written.
// Every JSON name is spelled out with [JsonPropertyName] so no naming policy is involved.
// Windows/Solaris/VM/z/OS sections are not modelled; they are ignored on read like any unknown field.

/// <summary>The root of config.json.</summary>
public sealed class Spec
{
    /// <summary>REQUIRED. Version of the runtime spec the bundle complies with.</summary>
    [JsonPropertyName("ociVersion")]
    public string OciVersion { get; set; } = "";

    [JsonPropertyName("process")]
    public Process? Process { get; set; }

    [JsonPropertyName("root")]
    public Root? Root { get; set; }

    [JsonPropertyName("hostname")]
    public string? Hostname { get; set; }

    [JsonPropertyName("domainname")]
    public string? Domainname { get; set; }

    [JsonPropertyName("mounts")]
    public List<Mount>? Mounts { get; set; }

    [JsonPropertyName("hooks")]
    public Hooks? Hooks { get; set; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    [JsonPropertyName("linux")]
    public Linux? Linux { get; set; }
}

/// <summary>The container process (config.json "process", also the file read by exec --process).</summary>
public sealed class Process
{
    [JsonPropertyName("terminal")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Terminal { get; set; }

    [JsonPropertyName("consoleSize")]
    public Box? ConsoleSize { get; set; }

    /// <summary>REQUIRED.</summary>
    [JsonPropertyName("user")]
    public User User { get; set; } = new();

    [JsonPropertyName("args")]
    public List<string>? Args { get; set; }

    /// <summary>Windows only.</summary>
    [JsonPropertyName("commandLine")]
    public string? CommandLine { get; set; }

    [JsonPropertyName("env")]
    public List<string>? Env { get; set; }

    /// <summary>REQUIRED. Absolute path inside the container.</summary>
    [JsonPropertyName("cwd")]
    public string Cwd { get; set; } = "";

    [JsonPropertyName("capabilities")]
    public LinuxCapabilities? Capabilities { get; set; }

    [JsonPropertyName("rlimits")]
    public List<PosixRlimit>? Rlimits { get; set; }

    [JsonPropertyName("noNewPrivileges")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; set; }

    [JsonPropertyName("apparmorProfile")]
    public string? ApparmorProfile { get; set; }

    [JsonPropertyName("oomScoreAdj")]
    public int? OomScoreAdj { get; set; }

    [JsonPropertyName("scheduler")]
    public LinuxScheduler? Scheduler { get; set; }

    [JsonPropertyName("selinuxLabel")]
    public string? SelinuxLabel { get; set; }

    [JsonPropertyName("ioPriority")]
    public LinuxIoPriority? IoPriority { get; set; }
}

/// <summary>Console size in characters.</summary>
public sealed class Box
{
    [JsonPropertyName("height")]
    public uint Height { get; set; }

    [JsonPropertyName("width")]
    public uint Width { get; set; }
}

/// <summary>process.user</summary>
public sealed class User
{
    [JsonPropertyName("uid")]
    public uint Uid { get; set; }

    [JsonPropertyName("gid")]
    public uint Gid { get; set; }

    [JsonPropertyName("umask")]
    public uint? Umask { get; set; }

    [JsonPropertyName("additionalGids")]
    public List<uint>? AdditionalGids { get; set; }

    /// <summary>Windows only.</summary>
    [JsonPropertyName("username")]
    public string? Username { get; set; }
}

/// <summary>process.capabilities: capability names such as "CAP_CHOWN".</summary>
public sealed class LinuxCapabilities
{
    [JsonPropertyName("bounding")]
    public List<string>? Bounding { get; set; }

    [JsonPropertyName("effective")]
    public List<string>? Effective { get; set; }

    [JsonPropertyName("inheritable")]
    public List<string>? Inheritable { get; set; }

    [JsonPropertyName("permitted")]
    public List<string>? Permitted { get; set; }

    [JsonPropertyName("ambient")]
    public List<string>? Ambient { get; set; }
}

/// <summary>process.rlimits[]: type is e.g. "RLIMIT_NOFILE".</summary>
public sealed class PosixRlimit
{
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    [JsonPropertyName("hard")]
    public ulong Hard { get; set; }

    [JsonPropertyName("soft")]
    public ulong Soft { get; set; }
}

/// <summary>process.scheduler (sched_setattr(2)).</summary>
public sealed class LinuxScheduler
{
    /// <summary>REQUIRED. SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE.</summary>
    [JsonPropertyName("policy")]
    public string Policy { get; set; } = "";

    [JsonPropertyName("nice")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Nice { get; set; }

    [JsonPropertyName("priority")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Priority { get; set; }

    /// <summary>SCHED_FLAG_RESET_ON_FORK, SCHED_FLAG_RECLAIM, ...</summary>
    [JsonPropertyName("flags")]
    public List<string>? Flags { get; set; }

    [JsonPropertyName("runtime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Runtime { get; set; }

    [JsonPropertyName("deadline")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Deadline { get; set; }

    [JsonPropertyName("period")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Period { get; set; }
}

/// <summary>process.ioPriority (ioprio_set(2)).</summary>
public sealed class LinuxIoPriority
{
    /// <summary>REQUIRED. IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE.</summary>
    [JsonPropertyName("class")]
    public string Class { get; set; } = "";

    [JsonPropertyName("priority")]
    public int Priority { get; set; }
}

/// <summary>config.json "root".</summary>
public sealed class Root
{
    /// <summary>REQUIRED. Path to the rootfs, absolute or relative to the bundle.</summary>
    [JsonPropertyName("path")]
    public string Path { get; set; } = "";

    [JsonPropertyName("readonly")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Readonly { get; set; }
}

/// <summary>config.json "mounts[]".</summary>
public sealed class Mount
{
    /// <summary>REQUIRED. Absolute path inside the container.</summary>
    [JsonPropertyName("destination")]
    public string Destination { get; set; } = "";

    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("source")]
    public string? Source { get; set; }

    [JsonPropertyName("options")]
    public List<string>? Options { get; set; }

    /// <summary>ID-mapped mount (needs the "idmap"/"ridmap" option on some runtimes).</summary>
    [JsonPropertyName("uidMappings")]
    public List<LinuxIdMapping>? UidMappings { get; set; }

    [JsonPropertyName("gidMappings")]
    public List<LinuxIdMapping>? GidMappings { get; set; }
}

/// <summary>config.json "hooks".</summary>
public sealed class Hooks
{
    /// <summary>Deprecated by the spec; still honoured by runtimes.</summary>
    [JsonPropertyName("prestart")]
    public List<Hook>? Prestart { get; set; }

    [JsonPropertyName("createRuntime")]
    public List<Hook>? CreateRuntime { get; set; }

    [JsonPropertyName("createContainer")]
    public List<Hook>? CreateContainer { get; set; }

    [JsonPropertyName("startContainer")]
    public List<Hook>? StartContainer { get; set; }

    [JsonPropertyName("poststart")]
    public List<Hook>? Poststart { get; set; }

    [JsonPropertyName("poststop")]
    public List<Hook>? Poststop { get; set; }
}

/// <summary>One hook command.</summary>
public sealed class Hook
{
    /// <summary>REQUIRED. Absolute path on the host.</summary>
    [JsonPropertyName("path")]
    public string Path { get; set; } = "";

    [JsonPropertyName("args")]
    public List<string>? Args { get; set; }

    [JsonPropertyName("env")]
    public List<string>? Env { get; set; }

    /// <summary>Seconds; must be greater than zero when set.</summary>
    [JsonPropertyName("timeout")]
    public int? Timeout { get; set; }
}

/// <summary>config.json "linux" (config-linux.md).</summary>
public sealed class Linux
{
    [JsonPropertyName("namespaces")]
    public List<LinuxNamespace>? Namespaces { get; set; }

    [JsonPropertyName("uidMappings")]
    public List<LinuxIdMapping>? UidMappings { get; set; }

    [JsonPropertyName("gidMappings")]
    public List<LinuxIdMapping>? GidMappings { get; set; }

    /// <summary>Keyed by clock name: "monotonic" or "boottime".</summary>
    [JsonPropertyName("timeOffsets")]
    public Dictionary<string, LinuxTimeOffset>? TimeOffsets { get; set; }

    [JsonPropertyName("devices")]
    public List<LinuxDevice>? Devices { get; set; }

    [JsonPropertyName("cgroupsPath")]
    public string? CgroupsPath { get; set; }

    [JsonPropertyName("resources")]
    public LinuxResources? Resources { get; set; }

    /// <summary>"slave", "private", "shared" or "unbindable" (optionally prefixed with "r").</summary>
    [JsonPropertyName("rootfsPropagation")]
    public string? RootfsPropagation { get; set; }

    [JsonPropertyName("seccomp")]
    public LinuxSeccomp? Seccomp { get; set; }

    [JsonPropertyName("sysctl")]
    public Dictionary<string, string>? Sysctl { get; set; }

    [JsonPropertyName("maskedPaths")]
    public List<string>? MaskedPaths { get; set; }

    [JsonPropertyName("readonlyPaths")]
    public List<string>? ReadonlyPaths { get; set; }

    [JsonPropertyName("mountLabel")]
    public string? MountLabel { get; set; }

    [JsonPropertyName("intelRdt")]
    public LinuxIntelRdt? IntelRdt { get; set; }

    [JsonPropertyName("personality")]
    public LinuxPersonality? Personality { get; set; }
}

/// <summary>linux.namespaces[]: type is pid, network, mount, ipc, uts, user, cgroup or time.</summary>
public sealed class LinuxNamespace
{
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    /// <summary>Existing namespace to join (e.g. /proc/1234/ns/net); null creates a new one.</summary>
    [JsonPropertyName("path")]
    public string? Path { get; set; }
}

/// <summary>A uid/gid mapping range (linux.uidMappings, mounts[].uidMappings, ...).</summary>
public sealed class LinuxIdMapping
{
    [JsonPropertyName("containerID")]
    public uint ContainerId { get; set; }

    [JsonPropertyName("hostID")]
    public uint HostId { get; set; }

    [JsonPropertyName("size")]
    public uint Size { get; set; }
}

/// <summary>linux.timeOffsets value.</summary>
public sealed class LinuxTimeOffset
{
    [JsonPropertyName("secs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Secs { get; set; }

    [JsonPropertyName("nanosecs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public uint Nanosecs { get; set; }
}

/// <summary>linux.devices[]: a device node to create in the container.</summary>
public sealed class LinuxDevice
{
    [JsonPropertyName("path")]
    public string Path { get; set; } = "";

    /// <summary>"c", "b", "u" or "p".</summary>
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    [JsonPropertyName("major")]
    public long Major { get; set; }

    [JsonPropertyName("minor")]
    public long Minor { get; set; }

    /// <summary>Permission bits (decimal in JSON, e.g. 438 for 0666).</summary>
    [JsonPropertyName("fileMode")]
    public uint? FileMode { get; set; }

    [JsonPropertyName("uid")]
    public uint? Uid { get; set; }

    [JsonPropertyName("gid")]
    public uint? Gid { get; set; }
}

/// <summary>linux.resources (also the document read by `update --resources`).</summary>
public sealed class LinuxResources
{
    [JsonPropertyName("devices")]
    public List<LinuxDeviceCgroup>? Devices { get; set; }

    [JsonPropertyName("memory")]
    public LinuxMemory? Memory { get; set; }

    [JsonPropertyName("cpu")]
    public LinuxCpu? Cpu { get; set; }

    [JsonPropertyName("pids")]
    public LinuxPids? Pids { get; set; }

    [JsonPropertyName("blockIO")]
    public LinuxBlockIO? BlockIO { get; set; }

    [JsonPropertyName("hugepageLimits")]
    public List<LinuxHugepageLimit>? HugepageLimits { get; set; }

    [JsonPropertyName("network")]
    public LinuxNetwork? Network { get; set; }

    /// <summary>Keyed by RDMA device name (e.g. "mlx5_1").</summary>
    [JsonPropertyName("rdma")]
    public Dictionary<string, LinuxRdma>? Rdma { get; set; }

    /// <summary>cgroup v2 file name -> value (e.g. "memory.high": "1G").</summary>
    [JsonPropertyName("unified")]
    public Dictionary<string, string>? Unified { get; set; }
}

/// <summary>linux.resources.devices[]: a device-controller allow/deny rule.</summary>
public sealed class LinuxDeviceCgroup
{
    [JsonPropertyName("allow")]
    public bool Allow { get; set; }

    /// <summary>"a", "c" or "b"; null means all.</summary>
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    /// <summary>null means all (wildcard).</summary>
    [JsonPropertyName("major")]
    public long? Major { get; set; }

    [JsonPropertyName("minor")]
    public long? Minor { get; set; }

    /// <summary>Combination of "r", "w", "m".</summary>
    [JsonPropertyName("access")]
    public string? Access { get; set; }
}

/// <summary>linux.resources.memory (bytes; -1 means unlimited where allowed).</summary>
public sealed class LinuxMemory
{
    [JsonPropertyName("limit")]
    public long? Limit { get; set; }

    [JsonPropertyName("reservation")]
    public long? Reservation { get; set; }

    /// <summary>Memory + swap limit.</summary>
    [JsonPropertyName("swap")]
    public long? Swap { get; set; }

    /// <summary>Deprecated (cgroup v1 only).</summary>
    [JsonPropertyName("kernel")]
    public long? Kernel { get; set; }

    [JsonPropertyName("kernelTCP")]
    public long? KernelTCP { get; set; }

    [JsonPropertyName("swappiness")]
    public ulong? Swappiness { get; set; }

    [JsonPropertyName("disableOOMKiller")]
    public bool? DisableOOMKiller { get; set; }

    [JsonPropertyName("useHierarchy")]
    public bool? UseHierarchy { get; set; }

    [JsonPropertyName("checkBeforeUpdate")]
    public bool? CheckBeforeUpdate { get; set; }
}

/// <summary>linux.resources.cpu (times in microseconds).</summary>
public sealed class LinuxCpu
{
    [JsonPropertyName("shares")]
    public ulong? Shares { get; set; }

    [JsonPropertyName("quota")]
    public long? Quota { get; set; }

    [JsonPropertyName("burst")]
    public ulong? Burst { get; set; }

    [JsonPropertyName("period")]
    public ulong? Period { get; set; }

    [JsonPropertyName("realtimeRuntime")]
    public long? RealtimeRuntime { get; set; }

    [JsonPropertyName("realtimePeriod")]
    public ulong? RealtimePeriod { get; set; }

    /// <summary>cpuset list, e.g. "0-3,7".</summary>
    [JsonPropertyName("cpus")]
    public string? Cpus { get; set; }

    [JsonPropertyName("mems")]
    public string? Mems { get; set; }

    /// <summary>0: default, 1: SCHED_IDLE for the cgroup.</summary>
    [JsonPropertyName("idle")]
    public long? Idle { get; set; }
}

/// <summary>linux.resources.pids</summary>
public sealed class LinuxPids
{
    /// <summary>REQUIRED. Maximum number of tasks; 0 or -1 means no limit.</summary>
    [JsonPropertyName("limit")]
    public long Limit { get; set; }
}

/// <summary>linux.resources.blockIO</summary>
public sealed class LinuxBlockIO
{
    /// <summary>10..1000.</summary>
    [JsonPropertyName("weight")]
    public ushort? Weight { get; set; }

    [JsonPropertyName("leafWeight")]
    public ushort? LeafWeight { get; set; }

    [JsonPropertyName("weightDevice")]
    public List<LinuxWeightDevice>? WeightDevice { get; set; }

    [JsonPropertyName("throttleReadBpsDevice")]
    public List<LinuxThrottleDevice>? ThrottleReadBpsDevice { get; set; }

    [JsonPropertyName("throttleWriteBpsDevice")]
    public List<LinuxThrottleDevice>? ThrottleWriteBpsDevice { get; set; }

    [JsonPropertyName("throttleReadIOPSDevice")]
    public List<LinuxThrottleDevice>? ThrottleReadIopsDevice { get; set; }

    [JsonPropertyName("throttleWriteIOPSDevice")]
    public List<LinuxThrottleDevice>? ThrottleWriteIopsDevice { get; set; }
}

/// <summary>blockIO.weightDevice[]</summary>
public sealed class LinuxWeightDevice
{
    [JsonPropertyName("major")]
    public long Major { get; set; }

    [JsonPropertyName("minor")]
    public long Minor { get; set; }

    [JsonPropertyName("weight")]
    public ushort? Weight { get; set; }

    [JsonPropertyName("leafWeight")]
    public ushort? LeafWeight { get; set; }
}

/// <summary>blockIO.throttle*Device[]</summary>
public sealed class LinuxThrottleDevice
{
    [JsonPropertyName("major")]
    public long Major { get; set; }

    [JsonPropertyName("minor")]
    public long Minor { get; set; }

    /// <summary>Bytes or IO operations per second.</summary>
    [JsonPropertyName("rate")]
    public ulong Rate { get; set; }
}

/// <summary>linux.resources.hugepageLimits[]</summary>
public sealed class LinuxHugepageLimit
{
    /// <summary>e.g. "2MB", "1GB".</summary>
    [JsonPropertyName("pageSize")]
    public string PageSize { get; set; } = "";

    /// <summary>Bytes.</summary>
    [JsonPropertyName("limit")]
    public ulong Limit { get; set; }
}

/// <summary>linux.resources.network (net_cls / net_prio, cgroup v1).</summary>
public sealed class LinuxNetwork
{
    [JsonPropertyName("classID")]
    public uint? ClassId { get; set; }

    [JsonPropertyName("priorities")]
    public List<LinuxInterfacePriority>? Priorities { get; set; }
}

/// <summary>network.priorities[]</summary>
public sealed class LinuxInterfacePriority
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("priority")]
    public uint Priority { get; set; }
}

/// <summary>linux.resources.rdma value.</summary>
public sealed class LinuxRdma
{
    [JsonPropertyName("hcaHandles")]
    public uint? HcaHandles { get; set; }

    [JsonPropertyName("hcaObjects")]
    public uint? HcaObjects { get; set; }
}

/// <summary>linux.intelRdt (resctrl).</summary>
public sealed class LinuxIntelRdt
{
    [JsonPropertyName("closID")]
    public string? ClosId { get; set; }

    /// <summary>"L3:&lt;cache_id0&gt;=&lt;cbm0&gt;;..."</summary>
    [JsonPropertyName("l3CacheSchema")]
    public string? L3CacheSchema { get; set; }

    /// <summary>"MB:&lt;cache_id0&gt;=bandwidth0;..."</summary>
    [JsonPropertyName("memBwSchema")]
    public string? MemBwSchema { get; set; }

    [JsonPropertyName("enableCMT")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EnableCMT { get; set; }

    [JsonPropertyName("enableMBM")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EnableMBM { get; set; }
}

/// <summary>linux.personality</summary>
public sealed class LinuxPersonality
{
    /// <summary>REQUIRED. "LINUX" or "LINUX32".</summary>
    [JsonPropertyName("domain")]
    public string Domain { get; set; } = "";

    [JsonPropertyName("flags")]
    public List<string>? Flags { get; set; }
}

/// <summary>linux.seccomp</summary>
public sealed class LinuxSeccomp
{
    /// <summary>REQUIRED. SCMP_ACT_*.</summary>
    [JsonPropertyName("defaultAction")]
    public string DefaultAction { get; set; } = "";

    [JsonPropertyName("defaultErrnoRet")]
    public uint? DefaultErrnoRet { get; set; }

    /// <summary>SCMP_ARCH_*.</summary>
    [JsonPropertyName("architectures")]
    public List<string>? Architectures { get; set; }

    /// <summary>SECCOMP_FILTER_FLAG_*.</summary>
    [JsonPropertyName("flags")]
    public List<string>? Flags { get; set; }

    [JsonPropertyName("listenerPath")]
    public string? ListenerPath { get; set; }

    [JsonPropertyName("listenerMetadata")]
    public string? ListenerMetadata { get; set; }

    [JsonPropertyName("syscalls")]
    public List<LinuxSyscall>? Syscalls { get; set; }
}

/// <summary>seccomp.syscalls[]</summary>
public sealed class LinuxSyscall
{
    /// <summary>REQUIRED, at least one entry.</summary>
    [JsonPropertyName("names")]
    public List<string> Names { get; set; } = [];

    /// <summary>REQUIRED. SCMP_ACT_*.</summary>
    [JsonPropertyName("action")]
    public string Action { get; set; } = "";

    [JsonPropertyName("errnoRet")]
    public uint? ErrnoRet { get; set; }

    [JsonPropertyName("args")]
    public List<LinuxSeccompArg>? Args { get; set; }
}

/// <summary>seccomp.syscalls[].args[]</summary>
public sealed class LinuxSeccompArg
{
    [JsonPropertyName("index")]
    public uint Index { get; set; }

    [JsonPropertyName("value")]
    public ulong Value { get; set; }

    /// <summary>Only meaningful for SCMP_CMP_MASKED_EQ; omitted from output when 0.</summary>
    [JsonPropertyName("valueTwo")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong ValueTwo { get; set; }

    /// <summary>REQUIRED. SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ.</summary>
    [JsonPropertyName("op")]
    public string Op { get; set; } = "";
}
