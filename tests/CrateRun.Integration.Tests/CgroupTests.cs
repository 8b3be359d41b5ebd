using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// cgroup behaviour of both faces, on this host's cgroup v1 (hybrid) hierarchies, as outside
/// testers reproduced the bugs: configs shaped like `runc spec` and Docker 20.10's, limits
/// read back from the host's cgroup files and pushed past from inside.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class CgroupTests(CrateRunFixture f)
{
    private const string Cg = "/sys/fs/cgroup";

    private string Oci() => Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");

    private static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>What `runc spec` writes (runc 1.1): no cgroup namespace, /sys/fs/cgroup a read-only cgroup mount.</summary>
    private JsonObject RuncSpec(params string[] args) => new()
    {
        ["ociVersion"] = "1.0.2-dev",
        ["process"] = new JsonObject
        {
            ["args"] = new JsonArray([.. args.Select(a => (JsonNode)a!)]),
            ["cwd"] = "/",
            ["env"] = new JsonArray("PATH=/bin:/usr/bin:/sbin"),
            ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
        },
        ["root"] = new JsonObject { ["path"] = f.Rootfs, ["readonly"] = true },
        ["mounts"] = new JsonArray(
            new JsonObject { ["destination"] = "/proc", ["type"] = "proc", ["source"] = "proc" },
            new JsonObject { ["destination"] = "/dev", ["type"] = "tmpfs", ["source"] = "tmpfs", ["options"] = new JsonArray("nosuid", "strictatime", "mode=755", "size=65536k") },
            new JsonObject { ["destination"] = "/sys", ["type"] = "sysfs", ["source"] = "sysfs", ["options"] = new JsonArray("nosuid", "noexec", "nodev", "ro") },
            new JsonObject { ["destination"] = "/sys/fs/cgroup", ["type"] = "cgroup", ["source"] = "cgroup", ["options"] = new JsonArray("nosuid", "noexec", "nodev", "relatime", "ro") }),
        ["linux"] = new JsonObject
        {
            ["resources"] = new JsonObject { ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }) },
            ["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" }, new JsonObject { ["type"] = "network" }, new JsonObject { ["type"] = "ipc" },
                new JsonObject { ["type"] = "uts" }, new JsonObject { ["type"] = "mount" }),
        },
    };

    private sealed class OciContainer(CgroupTests t, string id, string root, string bundle) : IAsyncDisposable
    {
        public string Id { get; } = id;
        public string Bundle { get; } = bundle;

        public Task<ProcResult> Run(params string[] args) =>
            Proc.Run(t.Oci(), ["--root", root, .. args], timeout: TimeSpan.FromSeconds(30));

        public Task<ProcResult> Create() => Run("create", "--bundle", Bundle, Id);

        public async ValueTask DisposeAsync()
        {
            await Run("delete", "--force", Id);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
            if (Directory.Exists(Bundle)) Directory.Delete(Bundle, recursive: true);
        }
    }

    private OciContainer Container(string prefix, JsonObject config, Action<JsonObject>? edit = null)
    {
        edit?.Invoke(config);
        var id = NewId(prefix);
        var dir = Path.Combine(f.TempBase, "cg-" + id);
        var bundle = Path.Combine(dir, "bundle");
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return new OciContainer(this, id, Path.Combine(dir, "root"), bundle);
    }

    private static JsonObject Resources(JsonObject config) => config["linux"]!["resources"]!.AsObject();

    /// <summary>The container's directory in a v1 hierarchy for a relative cgroupsPath: below our own cgroup there.</summary>
    private static string V1Dir(string controller, string cgroupsPath) =>
        Path.Combine(Cg, controller) + HostState.OwnCgroup(controller)!.TrimEnd('/') + "/" + cgroupsPath;

    private static void RemoveCgroupTree(string dir)
    {
        if (!Directory.Exists(dir)) return;
        foreach (var sub in Directory.GetDirectories(dir)) RemoveCgroupTree(sub);
        for (var i = 0; i < 100 && Directory.Exists(dir); i++)
        {
            try { Directory.Delete(dir); }
            catch (IOException) { Thread.Sleep(20); }
        }
    }

    // ---- conformance 14: /sys/fs/cgroup without a cgroup namespace ------------------------

    [RootFact]
    public async Task V1_without_a_cgroup_namespace_sys_fs_cgroup_shows_the_containers_own_cgroups()
    {
        // runc's default config: no cgroup namespace. Looked at from inside: the container's own limit, no host cgroups
        await using var c = Container("cgview", RuncSpec("/bin/sh", "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/pids/pids.max; ls /sys/fs/cgroup/memory | grep -c '^process_api$' || true"),
            cfg => { Resources(cfg)["memory"] = new JsonObject { ["limit"] = 33554432 }; Resources(cfg)["pids"] = new JsonObject { ["limit"] = 50 }; });
        var r = await c.Run("run", "--bundle", c.Bundle, c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["33554432", "50", "0"], lines);
    }

    [RootFact]
    public async Task V1_in_a_user_namespace_sys_fs_cgroup_is_not_an_empty_tmpfs()
    {
        // v1 hierarchies cannot be mounted from a user namespace: the container's own directories are bound instead
        await using var c = Container("cguserns", RuncSpec("/bin/sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"), cfg =>
        {
            Resources(cfg)["memory"] = new JsonObject { ["limit"] = 33554432 };
            var linux = cfg["linux"]!.AsObject();
            linux["namespaces"]!.AsArray().Add((JsonNode)new JsonObject { ["type"] = "user" });
            linux["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
            linux["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 100000, ["size"] = 65536 });
        });
        var r = await c.Run("run", "--bundle", c.Bundle, c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("33554432", r.Stdout.Trim());
    }

    // ---- conformance 15, 18; runc drop-in: Docker 20.10's zeros -------------------------

    [RootFact]
    public async Task Unified_on_a_v1_host_is_refused_in_one_line_and_leaves_nothing()
    {
        await using var c = Container("cgunified", RuncSpec("true"), cfg => Resources(cfg)["unified"] = new JsonObject { ["memory.high"] = "50000000" });
        var r = await c.Create();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Single(r.ErrLines);
        Assert.Contains("unified", r.Stderr);
        Assert.Empty(HostState.CgroupsOf(c.Id));
    }

    [RootFact]
    public async Task Docker_20_10_zero_resources_mean_unset_and_the_container_runs()
    {
        // moby's daemon writes these for a plain `docker run`: BlkioWeight 0, CPUShares 0, quota/period 0
        await using var c = Container("cgzero", RuncSpec("/bin/sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.shares"), cfg =>
        {
            var res = Resources(cfg);
            res["blockIO"] = new JsonObject { ["weight"] = 0 };
            res["cpu"] = new JsonObject { ["shares"] = 0, ["quota"] = 0, ["period"] = 0, ["cpus"] = "", ["mems"] = "" };
            res["memory"] = new JsonObject { ["limit"] = 0, ["reservation"] = 0, ["swap"] = 0 };
            res["pids"] = new JsonObject { ["limit"] = 0 };
        });
        var r = await c.Run("run", "--bundle", c.Bundle, c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("1024", r.Stdout.Trim()); // the kernel's default: shares 0 was not written
    }

    private static (long Major, long Minor) ABlockDevice()
    {
        foreach (var dev in Directory.GetDirectories("/sys/block").Order())
        {
            var parts = File.ReadAllText(Path.Combine(dev, "dev")).Trim().Split(':');
            if (!Path.GetFileName(dev).StartsWith("loop", StringComparison.Ordinal)) return (long.Parse(parts[0]), long.Parse(parts[1]));
        }
        throw new InvalidOperationException("no block device in /sys/block");
    }

    [RootFact]
    public async Task BlockIO_weight_and_throttling_are_written_to_the_blkio_cgroup()
    {
        var (major, minor) = ABlockDevice();
        JsonObject Rate(long rate) => new() { ["major"] = major, ["minor"] = minor, ["rate"] = rate };
        await using var c = Container("cgblkio", RuncSpec("sleep", "100"), cfg => Resources(cfg)["blockIO"] = new JsonObject
        {
            ["weight"] = 500,
            ["throttleReadBpsDevice"] = new JsonArray(Rate(1048576)),
            ["throttleWriteBpsDevice"] = new JsonArray(Rate(2097152)),
            ["throttleReadIOPSDevice"] = new JsonArray(Rate(100)),
            ["throttleWriteIOPSDevice"] = new JsonArray(Rate(50)),
        });
        var r = await c.Create();
        Assert.True(r.ExitCode == 0, r.ToString());
        var dir = V1Dir("blkio", "craterun-" + c.Id);
        Assert.Equal($"{major}:{minor} 1048576", HostState.ReadCgroupFile(dir, "blkio.throttle.read_bps_device"));
        Assert.Equal($"{major}:{minor} 2097152", HostState.ReadCgroupFile(dir, "blkio.throttle.write_bps_device"));
        Assert.Equal($"{major}:{minor} 100", HostState.ReadCgroupFile(dir, "blkio.throttle.read_iops_device"));
        Assert.Equal($"{major}:{minor} 50", HostState.ReadCgroupFile(dir, "blkio.throttle.write_iops_device"));
        // CFQ's file where the kernel has it, else BFQ's (a child cgroup shows it; the root does not)
        var weightFile = File.Exists(Path.Combine(dir, "blkio.weight")) ? "blkio.weight" : "blkio.bfq.weight";
        Assert.Equal("500", HostState.ReadCgroupFile(dir, weightFile));
    }

    [RootFact]
    public async Task Resources_the_host_cannot_apply_are_refused_in_one_line_naming_what_is_missing()
    {
        // this host: hugetlb, net_cls/net_prio and rdma not mounted as v1 hierarchies (hugetlb lives on the unified one)
        var missing = new List<(string Field, JsonNode Value, string Named)>
        {
            ("hugepageLimits", new JsonArray(new JsonObject { ["pageSize"] = "2MB", ["limit"] = 4194304 }), "hugetlb"),
            ("network", new JsonObject { ["classID"] = 1048577 }, "net_cls"),
            ("rdma", new JsonObject { ["mlx5_1"] = new JsonObject { ["hcaHandles"] = 3 } }, "rdma"),
        };
        var cgroups = File.ReadAllText("/proc/self/mountinfo");
        foreach (var (field, value, named) in missing)
        {
            Assert.False(cgroups.Contains($" {Cg}/{named} ", StringComparison.Ordinal), $"this host mounts {named} after all: the test needs another missing controller");
            await using var c = Container("cgmissing", RuncSpec("true"), cfg => Resources(cfg)[field] = value);
            var r = await c.Create();
            Assert.True(r.ExitCode != 0, $"{field}: {r}");
            Assert.Single(r.ErrLines);
            Assert.Contains(named, r.Stderr);
            Assert.DoesNotContain("not supported yet", r.Stderr);
            Assert.Empty(HostState.CgroupsOf(c.Id));
        }
    }

    // ---- cpu.burst, cpu.idle, memory.kernel, memory.kernelTCP ------------------------------

    /// <summary>
    /// cpu.burst (cpu.cfs_burst_us, kernel 5.14+) and cpu.idle (5.15+) reach the container's
    /// cpu cgroup, read from inside through its own /sys/fs/cgroup/cpu. A burst above the
    /// quota is the kernel's EINVAL, in one line.
    /// </summary>
    [RootFact]
    public async Task Cpu_burst_and_idle_are_applied_as_the_container_sees_them()
    {
        Assert.True(File.Exists(Path.Combine(Cg, "cpu", "cpu.cfs_burst_us")) && File.Exists(Path.Combine(Cg, "cpu", "cpu.idle")),
            "this host's kernel has cpu burst and idle (5.15+)");
        await using var c = Container("cgburst", RuncSpec("cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_burst_us", "/sys/fs/cgroup/cpu/cpu.idle"),
            cfg => Resources(cfg)["cpu"] = new JsonObject { ["quota"] = 50000, ["period"] = 100000, ["burst"] = 20000, ["idle"] = 1 });
        var r = await c.Run("run", "--bundle", c.Bundle, c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("50000\n20000\n1\n", r.Stdout);

        await using var over = Container("cgburst", RuncSpec("true"),
            cfg => Resources(cfg)["cpu"] = new JsonObject { ["quota"] = 50000, ["period"] = 100000, ["burst"] = 80000 });
        var o = await over.Create();
        Assert.True(o.ExitCode != 0, o.ToString());
        Assert.Contains("cpu.cfs_burst_us", Assert.Single(o.ErrLines));
        Assert.Empty(HostState.CgroupsOf(over.Id));
    }

    [RootFact]
    public async Task Cpu_idle_other_than_0_or_1_is_refused_in_one_line()
    {
        await using var c = Container("cgidle", RuncSpec("true"), cfg => Resources(cfg)["cpu"] = new JsonObject { ["idle"] = 2 });
        var r = await c.Create();
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("cpu.idle", Assert.Single(r.ErrLines));
        Assert.Empty(HostState.CgroupsOf(c.Id));
    }

    /// <summary>
    /// kernelTCP is enforced by v1's memory.kmem.tcp.limit_in_bytes and is written there.
    /// memory.kernel: since kernel 6.1 a write of memory.kmem.limit_in_bytes is accepted and
    /// changes nothing, and runc 1.0+ ignores it with a warning: the container runs, one warning.
    /// </summary>
    [RootFact]
    public async Task Memory_kernelTCP_is_applied_and_memory_kernel_is_ignored_with_a_warning()
    {
        await using var c = Container("cgkmem", RuncSpec("sleep", "100"),
            cfg => Resources(cfg)["memory"] = new JsonObject { ["limit"] = 67108864, ["kernel"] = 33554432, ["kernelTCP"] = 16777216 });
        var r = await c.Create();
        Assert.True(r.ExitCode == 0, r.ToString());
        var warning = Assert.Single(r.ErrLines);
        Assert.Contains("warning", warning);
        Assert.Contains("memory.kernel", warning);
        var mem = V1Dir("memory", "craterun-" + c.Id);
        Assert.Equal("16777216", HostState.ReadCgroupFile(mem, "memory.kmem.tcp.limit_in_bytes"));
        Assert.Equal("67108864", HostState.ReadCgroupFile(mem, "memory.limit_in_bytes"));
    }

    // ---- conformance 16: update ------------------------------------------------------------

    [RootFact]
    public async Task Update_memory_swap_minus_one_lifts_the_swap_limit()
    {
        await using var c = Container("cgswap", RuncSpec("sleep", "100"), cfg => Resources(cfg)["memory"] = new JsonObject { ["limit"] = 33554432, ["swap"] = 33554432 });
        Assert.True((await c.Create()).ExitCode == 0, "create failed");
        var mem = V1Dir("memory", "craterun-" + c.Id);
        Assert.True(File.Exists(Path.Combine(mem, "memory.memsw.limit_in_bytes")), "this host has swap accounting");
        Assert.Equal("33554432", HostState.ReadCgroupFile(mem, "memory.memsw.limit_in_bytes"));
        var u = await c.Run("update", "--memory-swap", "-1", c.Id);
        Assert.True(u.ExitCode == 0, u.ToString());
        Assert.Equal("9223372036854771712", HostState.ReadCgroupFile(mem, "memory.memsw.limit_in_bytes")); // "no limit", 4 KiB pages
        Assert.Equal("33554432", HostState.ReadCgroupFile(mem, "memory.limit_in_bytes"));
    }

    [RootFact]
    public async Task Update_of_realtime_runtime_and_period_is_applied()
    {
        await using var c = Container("cgrt", RuncSpec("sleep", "100"));
        Assert.True((await c.Create()).ExitCode == 0);
        var cpu = V1Dir("cpu", "craterun-" + c.Id);
        Assert.True(File.Exists(Path.Combine(cpu, "cpu.rt_runtime_us")), "this host has real-time group scheduling");
        var u = await Proc.Run(Oci(), ["--root", Path.Combine(Path.GetDirectoryName(c.Bundle)!, "root"), "update", "--resources", "-", c.Id],
            stdin: """{"cpu": {"realtimePeriod": 500000, "realtimeRuntime": 10000}}""", timeout: TimeSpan.FromSeconds(30));
        Assert.True(u.ExitCode == 0, u.ToString());
        Assert.Equal("500000", HostState.ReadCgroupFile(cpu, "cpu.rt_period_us"));
        Assert.Equal("10000", HostState.ReadCgroupFile(cpu, "cpu.rt_runtime_us"));
    }

    [RootFact]
    public async Task Update_to_a_shorter_period_below_a_parent_with_a_quota_is_applied()
    {
        // the Kubernetes pod case: the pod's cgroup has a quota; a container's period is lowered with its quota
        var parent = NewId("craterun-itest-pod");
        var podCpu = V1Dir("cpu", parent);
        Directory.CreateDirectory(podCpu);
        try
        {
            File.WriteAllText(Path.Combine(podCpu, "cpu.cfs_quota_us"), "50000");
            await using var c = Container("cgperiod", RuncSpec("sleep", "100"), cfg =>
            {
                cfg["linux"]!["cgroupsPath"] = parent + "/ctr";
                Resources(cfg)["cpu"] = new JsonObject { ["quota"] = 50000, ["period"] = 100000 };
            });
            var r = await c.Create();
            Assert.True(r.ExitCode == 0, r.ToString());
            var cpu = Path.Combine(podCpu, "ctr");
            var u = await c.Run("update", "--cpu-period", "10000", "--cpu-quota", "3000", c.Id);
            Assert.True(u.ExitCode == 0, u.ToString());
            Assert.Equal("10000", HostState.ReadCgroupFile(cpu, "cpu.cfs_period_us"));
            Assert.Equal("3000", HostState.ReadCgroupFile(cpu, "cpu.cfs_quota_us"));
        }
        finally
        {
            RemoveCgroupTree(podCpu);
            foreach (var h in new[] { "memory", "pids", "blkio", "freezer", "devices", "cpuset", "cpuacct" })
                RemoveCgroupTree(V1Dir(h, parent));
        }
    }

    // ---- conformance 17; drop-in 5, 6, 7: cgroups that were there before ---------------------

    [RootFact]
    public async Task A_failed_create_leaves_a_cgroup_it_did_not_create()
    {
        var path = NewId("craterun-itest-given");
        var mem = V1Dir("memory", path);
        Directory.CreateDirectory(mem); // made by someone else (cgcreate -g memory:...)
        try
        {
            await using var c = Container("cggiven", RuncSpec("true"), cfg =>
            {
                cfg["linux"]!["cgroupsPath"] = path;
                Resources(cfg)["cpu"] = new JsonObject { ["cpus"] = "4000" }; // the kernel refuses it
            });
            var r = await c.Create();
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.True(Directory.Exists(mem), "the pre-existing memory cgroup was removed");
            Assert.False(Directory.Exists(V1Dir("pids", path)), "the pids cgroup create made is left");
        }
        finally
        {
            RemoveCgroupTree(mem);
            foreach (var h in new[] { "cpu", "pids", "blkio", "freezer", "devices", "cpuset", "cpuacct" })
                RemoveCgroupTree(V1Dir(h, path));
        }
    }

    [RootFact]
    public async Task Create_into_a_frozen_cgroup_is_refused_as_runc_does_and_does_not_hang()
    {
        var path = NewId("craterun-itest-frozen");
        var freezer = V1Dir("freezer", path);
        Directory.CreateDirectory(freezer);
        try
        {
            File.WriteAllText(Path.Combine(freezer, "freezer.state"), "FROZEN");
            await using var c = Container("cgfrozen", RuncSpec("true"), cfg => cfg["linux"]!["cgroupsPath"] = path);
            var r = await c.Create();
            Assert.False(r.TimedOut, "create hung");
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains("container's cgroup unexpectedly frozen", r.Stderr);
            var state = await c.Run("state", c.Id);
            Assert.True(state.ExitCode != 0, "a container was left: " + state.Stdout);
        }
        finally
        {
            if (Directory.Exists(freezer)) File.WriteAllText(Path.Combine(freezer, "freezer.state"), "THAWED");
            RemoveCgroupTree(freezer);
            foreach (var h in new[] { "cpu", "pids", "blkio", "memory", "devices", "cpuset", "cpuacct" })
                RemoveCgroupTree(V1Dir(h, path));
        }
    }

    [RootFact]
    public async Task Create_warns_when_the_cgroup_already_has_processes()
    {
        var path = NewId("craterun-itest-busy");
        var pids = V1Dir("pids", path);
        Directory.CreateDirectory(pids);
        var sleeper = Proc.Start("/bin/sleep", ["60"], new Dictionary<string, string>());
        try
        {
            // only the pids hierarchy: the sleeper stays in the memory cgroup it started in
            File.WriteAllText(Path.Combine(pids, "cgroup.procs"), sleeper.Pid.ToString());
            await using var c = Container("cgbusy", RuncSpec("true"), cfg => cfg["linux"]!["cgroupsPath"] = path);
            var r = await c.Create();
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("warning", r.Stderr);
            Assert.Contains("not empty", r.Stderr);
        }
        finally
        {
            sleeper.Dispose(); // kills it
            await Task.Delay(100);
            RemoveCgroupTree(pids);
            foreach (var h in new[] { "cpu", "memory", "blkio", "freezer", "devices", "cpuset", "cpuacct" })
                RemoveCgroupTree(V1Dir(h, path));
        }
    }

    [RootFact]
    public async Task Delete_force_removes_cgroups_the_container_made_below_its_own()
    {
        await using var c = Container("cgchild", RuncSpec("sleep", "100"));
        Assert.True((await c.Create()).ExitCode == 0);
        Assert.True((await c.Run("start", c.Id)).ExitCode == 0);
        var state = await c.Run("state", c.Id);
        var pid = System.Text.Json.JsonDocument.Parse(state.Stdout).RootElement.GetProperty("pid").GetInt32();
        // as a container with a writable cgroupfs (systemd, a nested runtime) does: sub-cgroups, its process moved there
        var dirs = HostState.CgroupsOf(c.Id);
        Assert.NotEmpty(dirs);
        foreach (var d in dirs)
        {
            var sub = Directory.CreateDirectory(Path.Combine(d, "sub", "deeper")).FullName;
            if (!d.Contains("/memory/", StringComparison.Ordinal) && !d.Contains("/cpuset/", StringComparison.Ordinal))
                File.WriteAllText(Path.Combine(sub, "cgroup.procs"), pid.ToString());
        }
        var r = await c.Run("delete", "--force", c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Empty(HostState.CgroupsOf(c.Id));
    }

    [RootFact]
    public async Task Run_keep_keeps_the_cgroup_ps_of_the_stopped_container_is_an_empty_table_and_delete_removes_it()
    {
        await using var c = Container("cgkeep", RuncSpec("true"));
        var r = await c.Run("run", "--keep", "--bundle", c.Bundle, c.Id);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.NotEmpty(HostState.CgroupsOf(c.Id)); // as runc run --keep
        var ps = await c.Run("ps", c.Id);
        Assert.True(ps.ExitCode == 0, ps.ToString());
        var lines = ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("PID", lines[0]);
        Assert.True((await c.Run("delete", c.Id)).ExitCode == 0);
        Assert.Empty(HostState.CgroupsOf(c.Id));
    }

    // ---- Docker-like CLI ---------------------------------------------------------------------

    [RootFact]
    public async Task Pids_limit_counts_only_the_containers_processes()
    {
        var one = await f.Run("--rm", "--pids", "1", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(one.ExitCode == 0, one.ToString());
        // sh and one sleep are two; a second sleep would be the third
        var two = await f.Sh("sleep 2 & sleep 2 & wait; echo done", "--pids", "2");
        Assert.Matches("can't fork|Resource temporarily unavailable", two.Stderr);
        var three = await f.Sh("sleep 1 & sleep 1 & wait; echo done", "--pids", "3");
        Assert.DoesNotMatch("can't fork|Resource temporarily unavailable", three.Stderr);
    }

    [RootFact]
    public async Task Pids_and_cpus_out_of_range_are_one_line_errors()
    {
        var before = HostState.CraterunCgroups();
        var pids = await f.Run("--rm", "--pids", "99999999999", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(pids.ExitCode != 0, pids.ToString());
        Assert.Single(pids.ErrLines);
        Assert.Contains("--pids", pids.Stderr);
        Assert.DoesNotContain("pids.max", pids.Stderr);
        var cpus = await f.Run("--rm", "--cpus", (Environment.ProcessorCount + 1).ToString(), "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.True(cpus.ExitCode != 0, cpus.ToString());
        Assert.Single(cpus.ErrLines);
        Assert.Contains($"range of CPUs is from 0.01 to {Environment.ProcessorCount}.00, as there are only {Environment.ProcessorCount} CPUs available", cpus.Stderr);
        Assert.Equal(before, HostState.CraterunCgroups());
    }

    [RootFact]
    public async Task Cgroup_parent_directories_the_runtime_made_are_removed_with_the_container()
    {
        var parent = NewId("craterun-itest-parent") + "/inner";
        var top = parent.Split('/')[0];
        try
        {
            var r = await f.Run("--rm", "--cgroup-parent", parent, "--memory", "32m", "--rootfs", f.Rootfs, "--", "/bin/true");
            Assert.True(r.ExitCode == 0, r.ToString());
            foreach (var h in new[] { "memory", "pids", "cpu" })
                Assert.False(Directory.Exists(V1Dir(h, top)), $"{V1Dir(h, top)} was left");
        }
        finally
        {
            foreach (var h in new[] { "cpu", "memory", "pids", "blkio", "freezer", "devices", "cpuset", "cpuacct" })
                RemoveCgroupTree(V1Dir(h, top));
        }
    }
}
