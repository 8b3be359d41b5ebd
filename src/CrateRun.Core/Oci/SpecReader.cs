using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using static CrateRun.Core.HandJson;

namespace CrateRun.Core.Oci;

/// <summary>
/// Reads a config.json (and its process, linux.resources and linux.seccomp documents) with a
/// <see cref="Utf8JsonReader"/> straight into the <see cref="Spec"/> model. `create` reads one per
/// container, and containerd's shim runs two per pod: the generated reader (<see cref="OciJsonContext"/>)
/// builds its metadata for the model's ~35 types at run time, on first use, with reflection over
/// their attributes, about 2.5 ms of CPU per process (perf, issue 10).
/// Same rules as <see cref="OciJsonContext"/>: member names in any case (OrdinalIgnoreCase, as
/// PropertyNameCaseInsensitive), unknown members skipped, comments skipped, trailing commas
/// accepted, numbers only as JSON numbers (the reader's GetInt32/GetUInt64/... as its converters),
/// a member given twice keeps its last value, null for a nullable member or a list or map item,
/// null for a non-nullable member (cwd, user, names...) rejected (RespectNullableAnnotations).
/// Tests read runc's, podman's, containerd's, Docker's and the spec's configs, and generated ones
/// with every member set, null and absent, with both readers and compare every member.
/// </summary>
public static class SpecReader
{
    private static readonly JsonReaderOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <exception cref="JsonException">Not a config.json the generated reader takes (the message says where).</exception>
    public static Spec ReadSpec(ReadOnlySpan<byte> json) => Document(json, ReadSpecObject);

    /// <exception cref="JsonException">Not a process document (the message says where).</exception>
    public static Process ReadProcess(ReadOnlySpan<byte> json) => Document(json, ReadProcessObject);

    /// <exception cref="JsonException">Not a linux.resources document (the message says where).</exception>
    public static LinuxResources ReadResources(ReadOnlySpan<byte> json) => Document(json, ReadResourcesObject);

    /// <exception cref="JsonException">Not a linux.seccomp document (the message says where).</exception>
    public static LinuxSeccomp ReadSeccomp(ReadOnlySpan<byte> json) => Document(json, ReadSeccompObject);

    /// <summary>
    /// Reads a document given as text (transcoded to UTF-8 as the generated reader does); false for
    /// anything it does not take: invalid JSON, a wrong type, text that is not valid UTF-16. The caller
    /// then asks the generated reader, for its verdict and its error message.
    /// </summary>
    internal static bool TryRead<T>(string json, ReadValue<T> read, out T value) where T : class
    {
        value = null!;
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            // replaceInvalidSequences: false, as System.Text.Json, which refuses a lone surrogate
            if (Utf8.FromUtf16(json, buffer, out _, out var written, replaceInvalidSequences: false) != OperationStatus.Done) return false;
            value = Document(buffer.AsSpan(0, written), read);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static readonly ReadValue<Spec> SpecDocument = ReadSpecObject;
    internal static readonly ReadValue<Process> ProcessDocument = ReadProcessObject;
    internal static readonly ReadValue<LinuxResources> ResourcesDocument = ReadResourcesObject;
    internal static readonly ReadValue<LinuxSeccomp> SeccompDocument = ReadSeccompObject;

    /// <summary>One object, the whole document (the document "null" is refused: the caller's "expected an object").</summary>
    private static T Document<T>(ReadOnlySpan<byte> json, ReadValue<T> read) where T : class => HandJson.Document(json, Options, read);

    // ---- the model, one method per type; each starts on the object's first token --------------

    private static Spec ReadSpecObject(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var s = new Spec();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "ociVersion"u8)) s.OciVersion = RequiredString(ref r);
            else if (Is(ref r, "process"u8)) s.Process = Object(ref r, ReadProcessObject);
            else if (Is(ref r, "root"u8)) s.Root = Object(ref r, ReadRoot);
            else if (Is(ref r, "hostname"u8)) s.Hostname = String(ref r);
            else if (Is(ref r, "domainname"u8)) s.Domainname = String(ref r);
            else if (Is(ref r, "mounts"u8)) s.Mounts = List(ref r, ReadMount);
            else if (Is(ref r, "hooks"u8)) s.Hooks = Object(ref r, ReadHooks);
            else if (Is(ref r, "annotations"u8)) s.Annotations = StringMap(ref r);
            else if (Is(ref r, "linux"u8)) s.Linux = Object(ref r, ReadLinux);
            else Skip(ref r);
        }
        return s;
    }

    private static Process ReadProcessObject(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var p = new Process();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "terminal"u8)) p.Terminal = Value(ref r).GetBoolean();
            else if (Is(ref r, "consoleSize"u8)) p.ConsoleSize = Object(ref r, ReadBox);
            else if (Is(ref r, "user"u8)) p.User = RequiredObject(ref r, ReadUser);
            else if (Is(ref r, "args"u8)) p.Args = Strings(ref r);
            else if (Is(ref r, "commandLine"u8)) p.CommandLine = String(ref r);
            else if (Is(ref r, "env"u8)) p.Env = Strings(ref r);
            else if (Is(ref r, "cwd"u8)) p.Cwd = RequiredString(ref r);
            else if (Is(ref r, "capabilities"u8)) p.Capabilities = Object(ref r, ReadCapabilities);
            else if (Is(ref r, "rlimits"u8)) p.Rlimits = List(ref r, ReadRlimit);
            else if (Is(ref r, "noNewPrivileges"u8)) p.NoNewPrivileges = Value(ref r).GetBoolean();
            else if (Is(ref r, "apparmorProfile"u8)) p.ApparmorProfile = String(ref r);
            else if (Is(ref r, "oomScoreAdj"u8)) p.OomScoreAdj = Nullable(ref r) ? r.GetInt32() : null;
            else if (Is(ref r, "scheduler"u8)) p.Scheduler = Object(ref r, ReadScheduler);
            else if (Is(ref r, "selinuxLabel"u8)) p.SelinuxLabel = String(ref r);
            else if (Is(ref r, "ioPriority"u8)) p.IoPriority = Object(ref r, ReadIoPriority);
            else Skip(ref r);
        }
        return p;
    }

    private static Box ReadBox(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var b = new Box();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "height"u8)) b.Height = Value(ref r).GetUInt32();
            else if (Is(ref r, "width"u8)) b.Width = Value(ref r).GetUInt32();
            else Skip(ref r);
        }
        return b;
    }

    private static User ReadUser(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var u = new User();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "uid"u8)) u.Uid = Value(ref r).GetUInt32();
            else if (Is(ref r, "gid"u8)) u.Gid = Value(ref r).GetUInt32();
            else if (Is(ref r, "umask"u8)) u.Umask = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "additionalGids"u8)) u.AdditionalGids = List(ref r, static (ref Utf8JsonReader v) => v.GetUInt32());
            else if (Is(ref r, "username"u8)) u.Username = String(ref r);
            else Skip(ref r);
        }
        return u;
    }

    private static LinuxCapabilities ReadCapabilities(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new LinuxCapabilities();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "bounding"u8)) c.Bounding = Strings(ref r);
            else if (Is(ref r, "effective"u8)) c.Effective = Strings(ref r);
            else if (Is(ref r, "inheritable"u8)) c.Inheritable = Strings(ref r);
            else if (Is(ref r, "permitted"u8)) c.Permitted = Strings(ref r);
            else if (Is(ref r, "ambient"u8)) c.Ambient = Strings(ref r);
            else Skip(ref r);
        }
        return c;
    }

    private static PosixRlimit ReadRlimit(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var l = new PosixRlimit();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "type"u8)) l.Type = RequiredString(ref r);
            else if (Is(ref r, "hard"u8)) l.Hard = Value(ref r).GetUInt64();
            else if (Is(ref r, "soft"u8)) l.Soft = Value(ref r).GetUInt64();
            else Skip(ref r);
        }
        return l;
    }

    private static LinuxScheduler ReadScheduler(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var s = new LinuxScheduler();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "policy"u8)) s.Policy = RequiredString(ref r);
            else if (Is(ref r, "nice"u8)) s.Nice = Value(ref r).GetInt32();
            else if (Is(ref r, "priority"u8)) s.Priority = Value(ref r).GetInt32();
            else if (Is(ref r, "flags"u8)) s.Flags = Strings(ref r);
            else if (Is(ref r, "runtime"u8)) s.Runtime = Value(ref r).GetUInt64();
            else if (Is(ref r, "deadline"u8)) s.Deadline = Value(ref r).GetUInt64();
            else if (Is(ref r, "period"u8)) s.Period = Value(ref r).GetUInt64();
            else Skip(ref r);
        }
        return s;
    }

    private static LinuxIoPriority ReadIoPriority(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var p = new LinuxIoPriority();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "class"u8)) p.Class = RequiredString(ref r);
            else if (Is(ref r, "priority"u8)) p.Priority = Value(ref r).GetInt32();
            else Skip(ref r);
        }
        return p;
    }

    private static Root ReadRoot(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var root = new Root();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "path"u8)) root.Path = RequiredString(ref r);
            else if (Is(ref r, "readonly"u8)) root.Readonly = Value(ref r).GetBoolean();
            else Skip(ref r);
        }
        return root;
    }

    private static Mount ReadMount(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var m = new Mount();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "destination"u8)) m.Destination = RequiredString(ref r);
            else if (Is(ref r, "type"u8)) m.Type = String(ref r);
            else if (Is(ref r, "source"u8)) m.Source = String(ref r);
            else if (Is(ref r, "options"u8)) m.Options = Strings(ref r);
            else if (Is(ref r, "uidMappings"u8)) m.UidMappings = List(ref r, ReadIdMapping);
            else if (Is(ref r, "gidMappings"u8)) m.GidMappings = List(ref r, ReadIdMapping);
            else Skip(ref r);
        }
        return m;
    }

    private static Hooks ReadHooks(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new Hooks();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "prestart"u8)) h.Prestart = List(ref r, ReadHook);
            else if (Is(ref r, "createRuntime"u8)) h.CreateRuntime = List(ref r, ReadHook);
            else if (Is(ref r, "createContainer"u8)) h.CreateContainer = List(ref r, ReadHook);
            else if (Is(ref r, "startContainer"u8)) h.StartContainer = List(ref r, ReadHook);
            else if (Is(ref r, "poststart"u8)) h.Poststart = List(ref r, ReadHook);
            else if (Is(ref r, "poststop"u8)) h.Poststop = List(ref r, ReadHook);
            else Skip(ref r);
        }
        return h;
    }

    private static Hook ReadHook(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new Hook();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "path"u8)) h.Path = RequiredString(ref r);
            else if (Is(ref r, "args"u8)) h.Args = Strings(ref r);
            else if (Is(ref r, "env"u8)) h.Env = Strings(ref r);
            else if (Is(ref r, "timeout"u8)) h.Timeout = Nullable(ref r) ? r.GetInt32() : null;
            else Skip(ref r);
        }
        return h;
    }

    private static Linux ReadLinux(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var l = new Linux();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "namespaces"u8)) l.Namespaces = List(ref r, ReadNamespace);
            else if (Is(ref r, "uidMappings"u8)) l.UidMappings = List(ref r, ReadIdMapping);
            else if (Is(ref r, "gidMappings"u8)) l.GidMappings = List(ref r, ReadIdMapping);
            else if (Is(ref r, "timeOffsets"u8)) l.TimeOffsets = Map(ref r, ReadTimeOffset);
            else if (Is(ref r, "devices"u8)) l.Devices = List(ref r, ReadDevice);
            else if (Is(ref r, "cgroupsPath"u8)) l.CgroupsPath = String(ref r);
            else if (Is(ref r, "resources"u8)) l.Resources = Object(ref r, ReadResourcesObject);
            else if (Is(ref r, "rootfsPropagation"u8)) l.RootfsPropagation = String(ref r);
            else if (Is(ref r, "seccomp"u8)) l.Seccomp = Object(ref r, ReadSeccompObject);
            else if (Is(ref r, "sysctl"u8)) l.Sysctl = StringMap(ref r);
            else if (Is(ref r, "maskedPaths"u8)) l.MaskedPaths = Strings(ref r);
            else if (Is(ref r, "readonlyPaths"u8)) l.ReadonlyPaths = Strings(ref r);
            else if (Is(ref r, "mountLabel"u8)) l.MountLabel = String(ref r);
            else if (Is(ref r, "intelRdt"u8)) l.IntelRdt = Object(ref r, ReadIntelRdt);
            else if (Is(ref r, "personality"u8)) l.Personality = Object(ref r, ReadPersonality);
            else Skip(ref r);
        }
        return l;
    }

    private static LinuxNamespace ReadNamespace(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var n = new LinuxNamespace();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "type"u8)) n.Type = RequiredString(ref r);
            else if (Is(ref r, "path"u8)) n.Path = String(ref r);
            else Skip(ref r);
        }
        return n;
    }

    private static LinuxIdMapping ReadIdMapping(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var m = new LinuxIdMapping();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "containerID"u8)) m.ContainerId = Value(ref r).GetUInt32();
            else if (Is(ref r, "hostID"u8)) m.HostId = Value(ref r).GetUInt32();
            else if (Is(ref r, "size"u8)) m.Size = Value(ref r).GetUInt32();
            else Skip(ref r);
        }
        return m;
    }

    private static LinuxTimeOffset ReadTimeOffset(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var t = new LinuxTimeOffset();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "secs"u8)) t.Secs = Value(ref r).GetInt64();
            else if (Is(ref r, "nanosecs"u8)) t.Nanosecs = Value(ref r).GetUInt32();
            else Skip(ref r);
        }
        return t;
    }

    private static LinuxDevice ReadDevice(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new LinuxDevice();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "path"u8)) d.Path = RequiredString(ref r);
            else if (Is(ref r, "type"u8)) d.Type = RequiredString(ref r);
            else if (Is(ref r, "major"u8)) d.Major = Value(ref r).GetInt64();
            else if (Is(ref r, "minor"u8)) d.Minor = Value(ref r).GetInt64();
            else if (Is(ref r, "fileMode"u8)) d.FileMode = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "uid"u8)) d.Uid = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "gid"u8)) d.Gid = Nullable(ref r) ? r.GetUInt32() : null;
            else Skip(ref r);
        }
        return d;
    }

    private static LinuxResources ReadResourcesObject(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var res = new LinuxResources();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "devices"u8)) res.Devices = List(ref r, ReadDeviceCgroup);
            else if (Is(ref r, "memory"u8)) res.Memory = Object(ref r, ReadMemory);
            else if (Is(ref r, "cpu"u8)) res.Cpu = Object(ref r, ReadCpu);
            else if (Is(ref r, "pids"u8)) res.Pids = Object(ref r, ReadPids);
            else if (Is(ref r, "blockIO"u8)) res.BlockIO = Object(ref r, ReadBlockIO);
            else if (Is(ref r, "hugepageLimits"u8)) res.HugepageLimits = List(ref r, ReadHugepageLimit);
            else if (Is(ref r, "network"u8)) res.Network = Object(ref r, ReadNetwork);
            else if (Is(ref r, "rdma"u8)) res.Rdma = Map(ref r, ReadRdma);
            else if (Is(ref r, "unified"u8)) res.Unified = StringMap(ref r);
            else Skip(ref r);
        }
        return res;
    }

    private static LinuxDeviceCgroup ReadDeviceCgroup(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new LinuxDeviceCgroup();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "allow"u8)) d.Allow = Value(ref r).GetBoolean();
            else if (Is(ref r, "type"u8)) d.Type = String(ref r);
            else if (Is(ref r, "major"u8)) d.Major = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "minor"u8)) d.Minor = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "access"u8)) d.Access = String(ref r);
            else Skip(ref r);
        }
        return d;
    }

    private static LinuxMemory ReadMemory(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var m = new LinuxMemory();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "limit"u8)) m.Limit = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "reservation"u8)) m.Reservation = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "swap"u8)) m.Swap = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "kernel"u8)) m.Kernel = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "kernelTCP"u8)) m.KernelTCP = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "swappiness"u8)) m.Swappiness = Nullable(ref r) ? r.GetUInt64() : null;
            else if (Is(ref r, "disableOOMKiller"u8)) m.DisableOOMKiller = Nullable(ref r) ? r.GetBoolean() : null;
            else if (Is(ref r, "useHierarchy"u8)) m.UseHierarchy = Nullable(ref r) ? r.GetBoolean() : null;
            else if (Is(ref r, "checkBeforeUpdate"u8)) m.CheckBeforeUpdate = Nullable(ref r) ? r.GetBoolean() : null;
            else Skip(ref r);
        }
        return m;
    }

    private static LinuxCpu ReadCpu(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new LinuxCpu();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "shares"u8)) c.Shares = Nullable(ref r) ? r.GetUInt64() : null;
            else if (Is(ref r, "quota"u8)) c.Quota = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "burst"u8)) c.Burst = Nullable(ref r) ? r.GetUInt64() : null;
            else if (Is(ref r, "period"u8)) c.Period = Nullable(ref r) ? r.GetUInt64() : null;
            else if (Is(ref r, "realtimeRuntime"u8)) c.RealtimeRuntime = Nullable(ref r) ? r.GetInt64() : null;
            else if (Is(ref r, "realtimePeriod"u8)) c.RealtimePeriod = Nullable(ref r) ? r.GetUInt64() : null;
            else if (Is(ref r, "cpus"u8)) c.Cpus = String(ref r);
            else if (Is(ref r, "mems"u8)) c.Mems = String(ref r);
            else if (Is(ref r, "idle"u8)) c.Idle = Nullable(ref r) ? r.GetInt64() : null;
            else Skip(ref r);
        }
        return c;
    }

    private static LinuxPids ReadPids(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var p = new LinuxPids();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "limit"u8)) p.Limit = Value(ref r).GetInt64();
            else Skip(ref r);
        }
        return p;
    }

    private static LinuxBlockIO ReadBlockIO(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var b = new LinuxBlockIO();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "weight"u8)) b.Weight = Nullable(ref r) ? r.GetUInt16() : null;
            else if (Is(ref r, "leafWeight"u8)) b.LeafWeight = Nullable(ref r) ? r.GetUInt16() : null;
            else if (Is(ref r, "weightDevice"u8)) b.WeightDevice = List(ref r, ReadWeightDevice);
            else if (Is(ref r, "throttleReadBpsDevice"u8)) b.ThrottleReadBpsDevice = List(ref r, ReadThrottleDevice);
            else if (Is(ref r, "throttleWriteBpsDevice"u8)) b.ThrottleWriteBpsDevice = List(ref r, ReadThrottleDevice);
            else if (Is(ref r, "throttleReadIOPSDevice"u8)) b.ThrottleReadIopsDevice = List(ref r, ReadThrottleDevice);
            else if (Is(ref r, "throttleWriteIOPSDevice"u8)) b.ThrottleWriteIopsDevice = List(ref r, ReadThrottleDevice);
            else Skip(ref r);
        }
        return b;
    }

    private static LinuxWeightDevice ReadWeightDevice(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new LinuxWeightDevice();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "major"u8)) d.Major = Value(ref r).GetInt64();
            else if (Is(ref r, "minor"u8)) d.Minor = Value(ref r).GetInt64();
            else if (Is(ref r, "weight"u8)) d.Weight = Nullable(ref r) ? r.GetUInt16() : null;
            else if (Is(ref r, "leafWeight"u8)) d.LeafWeight = Nullable(ref r) ? r.GetUInt16() : null;
            else Skip(ref r);
        }
        return d;
    }

    private static LinuxThrottleDevice ReadThrottleDevice(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new LinuxThrottleDevice();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "major"u8)) d.Major = Value(ref r).GetInt64();
            else if (Is(ref r, "minor"u8)) d.Minor = Value(ref r).GetInt64();
            else if (Is(ref r, "rate"u8)) d.Rate = Value(ref r).GetUInt64();
            else Skip(ref r);
        }
        return d;
    }

    private static LinuxHugepageLimit ReadHugepageLimit(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new LinuxHugepageLimit();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "pageSize"u8)) h.PageSize = RequiredString(ref r);
            else if (Is(ref r, "limit"u8)) h.Limit = Value(ref r).GetUInt64();
            else Skip(ref r);
        }
        return h;
    }

    private static LinuxNetwork ReadNetwork(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var n = new LinuxNetwork();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "classID"u8)) n.ClassId = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "priorities"u8)) n.Priorities = List(ref r, ReadInterfacePriority);
            else Skip(ref r);
        }
        return n;
    }

    private static LinuxInterfacePriority ReadInterfacePriority(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var p = new LinuxInterfacePriority();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "name"u8)) p.Name = RequiredString(ref r);
            else if (Is(ref r, "priority"u8)) p.Priority = Value(ref r).GetUInt32();
            else Skip(ref r);
        }
        return p;
    }

    private static LinuxRdma ReadRdma(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new LinuxRdma();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "hcaHandles"u8)) d.HcaHandles = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "hcaObjects"u8)) d.HcaObjects = Nullable(ref r) ? r.GetUInt32() : null;
            else Skip(ref r);
        }
        return d;
    }

    private static LinuxIntelRdt ReadIntelRdt(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var i = new LinuxIntelRdt();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "closID"u8)) i.ClosId = String(ref r);
            else if (Is(ref r, "l3CacheSchema"u8)) i.L3CacheSchema = String(ref r);
            else if (Is(ref r, "memBwSchema"u8)) i.MemBwSchema = String(ref r);
            else if (Is(ref r, "enableCMT"u8)) i.EnableCMT = Value(ref r).GetBoolean();
            else if (Is(ref r, "enableMBM"u8)) i.EnableMBM = Value(ref r).GetBoolean();
            else Skip(ref r);
        }
        return i;
    }

    private static LinuxPersonality ReadPersonality(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var p = new LinuxPersonality();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "domain"u8)) p.Domain = RequiredString(ref r);
            else if (Is(ref r, "flags"u8)) p.Flags = Strings(ref r);
            else Skip(ref r);
        }
        return p;
    }

    private static LinuxSeccomp ReadSeccompObject(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var s = new LinuxSeccomp();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "defaultAction"u8)) s.DefaultAction = RequiredString(ref r);
            else if (Is(ref r, "defaultErrnoRet"u8)) s.DefaultErrnoRet = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "architectures"u8)) s.Architectures = Strings(ref r);
            else if (Is(ref r, "flags"u8)) s.Flags = Strings(ref r);
            else if (Is(ref r, "listenerPath"u8)) s.ListenerPath = String(ref r);
            else if (Is(ref r, "listenerMetadata"u8)) s.ListenerMetadata = String(ref r);
            else if (Is(ref r, "syscalls"u8)) s.Syscalls = List(ref r, ReadSyscall);
            else Skip(ref r);
        }
        return s;
    }

    private static LinuxSyscall ReadSyscall(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var s = new LinuxSyscall();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "names"u8)) s.Names = Strings(ref r) ?? throw NullForRequired(ref r);
            else if (Is(ref r, "action"u8)) s.Action = RequiredString(ref r);
            else if (Is(ref r, "errnoRet"u8)) s.ErrnoRet = Nullable(ref r) ? r.GetUInt32() : null;
            else if (Is(ref r, "args"u8)) s.Args = List(ref r, ReadSeccompArg);
            else Skip(ref r);
        }
        return s;
    }

    private static LinuxSeccompArg ReadSeccompArg(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var a = new LinuxSeccompArg();
        while (NextProperty(ref r))
        {
            if (Is(ref r, "index"u8)) a.Index = Value(ref r).GetUInt32();
            else if (Is(ref r, "value"u8)) a.Value = Value(ref r).GetUInt64();
            else if (Is(ref r, "valueTwo"u8)) a.ValueTwo = Value(ref r).GetUInt64();
            else if (Is(ref r, "op"u8)) a.Op = RequiredString(ref r);
            else Skip(ref r);
        }
        return a;
    }

    // ---- the reading rules -----------------------------------------------------------------

    /// <summary>Moves to the next property name of the current object; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the document ends inside an object");
        return r.TokenType == JsonTokenType.PropertyName;
    }

    /// <summary>
    /// Whether the current property name is <paramref name="name"/> in any case, as the generated
    /// reader's OrdinalIgnoreCase lookup: ASCII letters compared without case on the bytes; a name with
    /// an escape or a non-ASCII character compared as text.
    /// </summary>
    private static bool Is(ref Utf8JsonReader r, ReadOnlySpan<byte> name) =>
        !r.ValueIsEscaped && Ascii.IsValid(r.ValueSpan)
            ? Ascii.EqualsIgnoreCase(r.ValueSpan, name)
            : string.Equals(r.GetString(), Encoding.UTF8.GetString(name), StringComparison.OrdinalIgnoreCase);

    /// <summary>Moves to the property's value.</summary>
    private static ref Utf8JsonReader Value(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the document ends before a value");
        return ref r;
    }

    /// <summary>Moves to the property's value; false when it is null.</summary>
    private static bool Nullable(ref Utf8JsonReader r) => Value(ref r).TokenType != JsonTokenType.Null;

    private static string? String(ref Utf8JsonReader r) => Nullable(ref r) ? r.GetString() : null;

    /// <summary>A non-nullable string member: null is refused.</summary>
    private static string RequiredString(ref Utf8JsonReader r) => Nullable(ref r) ? r.GetString()! : throw NullForRequired(ref r);

    /// <summary>An object member (null: null).</summary>
    private static T? Object<T>(ref Utf8JsonReader r, ReadValue<T> read) where T : class =>
        Nullable(ref r) ? read(ref r) : null;

    /// <summary>A non-nullable object member: null is refused.</summary>
    private static T RequiredObject<T>(ref Utf8JsonReader r, ReadValue<T> read) where T : class =>
        Nullable(ref r) ? read(ref r) : throw NullForRequired(ref r);

    private static List<string>? Strings(ref Utf8JsonReader r) => List(ref r, static (ref Utf8JsonReader v) => v.GetString()!);

    /// <summary>
    /// The property's value, an array (null: null). A null item is a null reference for an item
    /// of a class type (the generated reader does not check the nullability of items) and refused
    /// for a number (its GetUInt32 throws on a null token).
    /// </summary>
    private static List<T>? List<T>(ref Utf8JsonReader r, ReadValue<T> item)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<T>();
        while (Value(ref r).TokenType != JsonTokenType.EndArray)
        {
            list.Add(r.TokenType == JsonTokenType.Null && !typeof(T).IsValueType ? default! : item(ref r));
        }
        return list;
    }

    /// <summary>The property's value, an object of string keys (null: null); a key given twice keeps its last value.</summary>
    private static Dictionary<string, T>? Map<T>(ref Utf8JsonReader r, ReadValue<T> value) where T : class
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var map = new Dictionary<string, T>();
        while (NextProperty(ref r))
        {
            var key = r.GetString()!;
            map[key] = Nullable(ref r) ? value(ref r) : null!;
        }
        return map;
    }

    private static Dictionary<string, string>? StringMap(ref Utf8JsonReader r) => Map(ref r, static (ref Utf8JsonReader v) => v.GetString()!);

    private static void Skip(ref Utf8JsonReader r) => Value(ref r).Skip();

    private static JsonException NullForRequired(ref Utf8JsonReader r) =>
        new($"null for a member that cannot be null at byte {r.TokenStartIndex}");
}
