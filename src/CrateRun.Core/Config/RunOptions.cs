namespace CrateRun.Core.Config;

/// <summary>A volume: a host directory bound into the container (--mount may set its propagation: rshared, rslave...).</summary>
public sealed record Volume(string HostPath, string ContainerPath, bool ReadOnly, string? Propagation = null)
{
    /// <summary>HOSTDIR:CTRDIR[:ro|rw]. The host path must be absolute; it is checked to exist by the caller.</summary>
    public static Volume Parse(string spec)
    {
        var parts = spec.Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new UsageException($"invalid volume '{spec}': expected HOSTDIR:CTRDIR[:ro]");
        var ro = false;
        if (parts.Length == 3)
            ro = parts[2] switch
            {
                "ro" => true,
                "rw" => false,
                _ => throw new UsageException($"invalid volume '{spec}': mode must be ro or rw, not '{parts[2]}'"),
            };
        if (!parts[0].StartsWith('/'))
            throw new UsageException($"invalid volume '{spec}': the host path '{parts[0]}' must be absolute");
        if (!parts[1].StartsWith('/'))
            throw new UsageException($"invalid volume '{spec}': the container path '{parts[1]}' must be absolute");
        return new Volume(parts[0], parts[1], ro);
    }
}

/// <summary>Everything the Docker-like <c>run</c> takes; <see cref="SpecBuilder"/> turns it into an OCI config.</summary>
public sealed class RunOptions
{
    public required string Rootfs { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public string? Name { get; init; }
    public string? Hostname { get; init; }
    public long? Memory { get; init; }
    public long? Pids { get; init; }
    public (long Quota, ulong Period)? Cpu { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public string? Workdir { get; init; }
    public IReadOnlyList<Volume> Volumes { get; init; } = [];
    public bool Tty { get; init; }
    public bool Interactive { get; init; }
    public string? CgroupParent { get; init; }
    public IReadOnlyList<string> CapAdd { get; init; } = [];
    public IReadOnlyList<string> CapDrop { get; init; } = [];
    public bool Privileged { get; init; }
    public bool ReadOnlyRoot { get; init; }
    public IReadOnlyList<string> Tmpfs { get; init; } = [];
    public bool NoNewPrivileges { get; init; } = true;
    /// <summary>A seccomp profile (--security-opt seccomp=FILE); null means Docker's default profile.</summary>
    public Oci.LinuxSeccomp? Seccomp { get; init; }
    /// <summary>--security-opt seccomp=unconfined.</summary>
    public bool SeccompUnconfined { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public IReadOnlyList<uint> AdditionalGids { get; init; } = [];
    public (ushort Rows, ushort Cols)? ConsoleSize { get; init; }
    /// <summary>A new user namespace with these maps (--userns, or automatically when rootless); null: none.</summary>
    public IReadOnlyList<Oci.LinuxIdMapping>? UidMappings { get; init; }
    public IReadOnlyList<Oci.LinuxIdMapping>? GidMappings { get; init; }
    /// <summary>Mount the rootfs id-mapped into the user namespace (root only), so host root's files are root's inside.</summary>
    public bool IdmapRootfs { get; init; }
    /// <summary>
    /// The capabilities the runtime may hand out (its own bounding set): --privileged and --cap-add ALL
    /// mean these. Null: every known capability.
    /// </summary>
    public IReadOnlyCollection<string>? GrantableCapabilities { get; init; }
    /// <summary>Extra annotations of the config (run IMAGE: the image's layers, its labels and stop signal).</summary>
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
    /// <summary>Host devices made available (--device), already looked up on the host.</summary>
    public IReadOnlyList<(Oci.LinuxDevice Device, string Access)> Devices { get; init; } = [];
    /// <summary>--network, -p, --dns, --add-host (null: the config's own new network namespace, lo only).</summary>
    public Network.NetworkSettings? Network { get; init; }
    /// <summary>--network container:ID: the namespace to join (/proc/PID/ns/net).</summary>
    public string? JoinNetns { get; init; }
    /// <summary>Docker's labels (--label, --label-file): metadata of the container, not of its config.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    // ---- flags (issue 11): applied by RunFlags.ApplyTo ----
    /// <summary>--ulimit: process.rlimits.</summary>
    public IReadOnlyList<Oci.PosixRlimit> Ulimits { get; init; } = [];
    /// <summary>--shm-size: the size of the /dev/shm tmpfs in bytes (null: 64 MiB).</summary>
    public long? ShmSize { get; init; }
    /// <summary>--sysctl: namespaced sysctls only.</summary>
    public IReadOnlyDictionary<string, string> Sysctls { get; init; } = new Dictionary<string, string>();
    /// <summary>--memory-swap: memory plus swap in bytes, -1 unlimited (null: no swap beyond --memory).</summary>
    public long? MemorySwap { get; init; }
    /// <summary>--memory-reservation: the soft limit in bytes.</summary>
    public long? MemoryReservation { get; init; }
    public ulong? CpuShares { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    /// <summary>--oom-score-adj: process.oomScoreAdj.</summary>
    public int? OomScoreAdj { get; init; }
    /// <summary>--ipc: private (default), shareable, none, host or container:ID; kept in the record (only a shareable container may be joined).</summary>
    public string IpcMode { get; init; } = RunFlags.IpcPrivate;
    /// <summary>--ipc/--pid/--uts: namespace type to the namespace to join (/proc/PID/ns/...), or null for the host's.</summary>
    public IReadOnlyDictionary<string, string?> SharedNamespaces { get; init; } = new Dictionary<string, string?>();
    /// <summary>--stop-signal and --stop-timeout: kept in the container's record for stop.</summary>
    public string? StopSignal { get; init; }
    public int? StopTimeout { get; init; }
    /// <summary>--restart: what the monitor does when the container exits (null: no).</summary>
    public Docker.RestartPolicy? RestartPolicy { get; init; }
    /// <summary>--init: a reaping init (craterun's own) is PID 1 and runs the command.</summary>
    public bool Init { get; init; }
    /// <summary>--health-cmd and its flags (null: no check).</summary>
    public State.HealthCheck? Healthcheck { get; init; }
}
