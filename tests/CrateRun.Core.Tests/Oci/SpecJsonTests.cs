using System.Text.Json;
using System.Text.Json.Nodes;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

public class SpecJsonTests
{
    // A `runc spec`-style config.json, plus comments, trailing commas, unknown fields at several
    // levels and the less common sections, to exercise the reader.
    private const string RuncLikeConfig = """
        {
          // comments are tolerated
          "ociVersion": "1.2.0",
          "x-vendor-extension": { "nested": [1, 2, 3] },
          "process": {
            "terminal": true,
            "consoleSize": { "height": 24, "width": 80 },
            "user": { "uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 10] },
            "args": [ "sh", "-c", "echo a+b <&> é" ],
            "env": [
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
              "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
              "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL" ],
              "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
              "ambient": [ "CAP_KILL" ]
            },
            "rlimits": [
              { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 },
              { "type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0 }
            ],
            "noNewPrivileges": true,
            "oomScoreAdj": -500,
            "apparmorProfile": "crate-default",
            "selinuxLabel": "system_u:system_r:container_t:s0",
            "scheduler": { "policy": "SCHED_FIFO", "priority": 10, "flags": [ "SCHED_FLAG_RESET_ON_FORK" ] },
            "ioPriority": { "class": "IOPRIO_CLASS_BE", "priority": 4 },
            "someFutureField": true
          },
          "root": { "path": "rootfs", "readonly": true },
          "hostname": "crate",
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            {
              "destination": "/dev",
              "type": "tmpfs",
              "source": "tmpfs",
              "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ]
            },
            {
              "destination": "/data",
              "type": "bind",
              "source": "/srv/data",
              "options": [ "rbind", "ro", "idmap" ],
              "uidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ],
              "gidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ]
            }
          ],
          "hooks": {
            "createRuntime": [ { "path": "/usr/bin/netsetup", "args": [ "netsetup", "up" ], "timeout": 5 } ],
            "poststop": [ { "path": "/usr/bin/cleanup", "env": [ "A=1" ] } ]
          },
          "annotations": { "org.example.key": "value" },
          "linux": {
            "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
            "gidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
            "sysctl": { "net.ipv4.ip_forward": "1" },
            "resources": {
              "devices": [
                { "allow": false, "access": "rwm" },
                { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }
              ],
              "memory": {
                "limit": 536870912,
                "reservation": -1,
                "swap": -1,
                "kernelTCP": 1048576,
                "swappiness": 60,
                "disableOOMKiller": false,
                "checkBeforeUpdate": true
              },
              "cpu": {
                "shares": 1024,
                "quota": 50000,
                "period": 100000,
                "realtimeRuntime": 950000,
                "realtimePeriod": 1000000,
                "cpus": "0-3",
                "mems": "0",
                "idle": 0
              },
              "pids": { "limit": 512 },
              "blockIO": {
                "weight": 500,
                "weightDevice": [ { "major": 8, "minor": 0, "weight": 600 } ],
                "throttleReadBpsDevice": [ { "major": 8, "minor": 0, "rate": 104857600 } ],
                "throttleWriteIOPSDevice": [ { "major": 8, "minor": 16, "rate": 300 } ]
              },
              "hugepageLimits": [ { "pageSize": "2MB", "limit": 209715200 } ],
              "network": { "classID": 1048577, "priorities": [ { "name": "eth0", "priority": 5 } ] },
              "rdma": { "mlx5_1": { "hcaHandles": 3, "hcaObjects": 10000 } },
              "unified": { "memory.high": "400M" }
            },
            "cgroupsPath": "/crates/abc",
            "namespaces": [
              { "type": "pid" },
              { "type": "network", "path": "/var/run/netns/crate" },
              { "type": "ipc" },
              { "type": "uts" },
              { "type": "mount" },
              { "type": "cgroup" },
              { "type": "user" },
              { "type": "time" }
            ],
            "timeOffsets": { "monotonic": { "secs": 172800, "nanosecs": 0 }, "boottime": { "secs": -3600 } },
            "devices": [
              { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 }
            ],
            "seccomp": {
              "defaultAction": "SCMP_ACT_ERRNO",
              "defaultErrnoRet": 1,
              "architectures": [ "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" ],
              "flags": [ "SECCOMP_FILTER_FLAG_LOG" ],
              "listenerPath": "/run/seccomp-agent.sock",
              "listenerMetadata": "meta",
              "syscalls": [
                { "names": [ "read", "write", "exit_group" ], "action": "SCMP_ACT_ALLOW" },
                {
                  "names": [ "personality" ],
                  "action": "SCMP_ACT_ALLOW",
                  "args": [ { "index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ" } ]
                },
                {
                  "names": [ "clone" ],
                  "action": "SCMP_ACT_ERRNO",
                  "errnoRet": 38,
                  "args": [ { "index": 0, "value": 2114060288, "valueTwo": 2114060288, "op": "SCMP_CMP_MASKED_EQ" } ]
                }
              ]
            },
            "rootfsPropagation": "rslave",
            "maskedPaths": [ "/proc/acpi", "/proc/kcore", "/sys/firmware" ],
            "readonlyPaths": [ "/proc/bus", "/proc/sys" ],
            "mountLabel": "system_u:object_r:container_file_t:s0",
            "intelRdt": { "closID": "guaranteed", "l3CacheSchema": "L3:0=7f0", "enableCMT": true },
            "personality": { "domain": "LINUX32" },
          },
          "windows": { "layerFolders": [ "C:\\layers" ] },
        }
        """;

    [Fact]
    public void ReadSpec_MapsTopLevelProcessRootMountsAndHooks()
    {
        var spec = OciJson.ReadSpec(RuncLikeConfig);

        Assert.Equal("1.2.0", spec.OciVersion);
        Assert.Equal("crate", spec.Hostname);
        Assert.Null(spec.Domainname);
        Assert.Equal("value", spec.Annotations!["org.example.key"]);

        var p = spec.Process!;
        Assert.True(p.Terminal);
        Assert.Equal(24u, p.ConsoleSize!.Height);
        Assert.Equal(80u, p.ConsoleSize.Width);
        Assert.Equal(1000u, p.User.Uid);
        Assert.Equal(1000u, p.User.Gid);
        Assert.Equal(18u, p.User.Umask);
        Assert.Equal([5u, 10u], p.User.AdditionalGids!);
        Assert.Null(p.User.Username);
        Assert.Equal(["sh", "-c", "echo a+b <&> é"], p.Args!);
        Assert.Equal(2, p.Env!.Count);
        Assert.Equal("/", p.Cwd);
        Assert.Equal(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], p.Capabilities!.Bounding!);
        Assert.Null(p.Capabilities.Inheritable);
        Assert.Equal(["CAP_KILL"], p.Capabilities.Ambient!);
        Assert.Equal("RLIMIT_NOFILE", p.Rlimits![0].Type);
        Assert.Equal(1024ul, p.Rlimits[0].Soft);
        Assert.Equal(ulong.MaxValue, p.Rlimits[1].Hard);
        Assert.True(p.NoNewPrivileges);
        Assert.Equal(-500, p.OomScoreAdj);
        Assert.Equal("crate-default", p.ApparmorProfile);
        Assert.Equal("system_u:system_r:container_t:s0", p.SelinuxLabel);
        Assert.Equal("SCHED_FIFO", p.Scheduler!.Policy);
        Assert.Equal(10, p.Scheduler.Priority);
        Assert.Equal(["SCHED_FLAG_RESET_ON_FORK"], p.Scheduler.Flags!);
        Assert.Equal("IOPRIO_CLASS_BE", p.IoPriority!.Class);
        Assert.Equal(4, p.IoPriority.Priority);

        Assert.Equal("rootfs", spec.Root!.Path);
        Assert.True(spec.Root.Readonly);

        Assert.Equal(3, spec.Mounts!.Count);
        Assert.Equal("/proc", spec.Mounts[0].Destination);
        Assert.Equal("proc", spec.Mounts[0].Type);
        Assert.Null(spec.Mounts[0].Options);
        Assert.Contains("mode=755", spec.Mounts[1].Options!);
        var idmapped = spec.Mounts[2];
        Assert.Equal("/srv/data", idmapped.Source);
        Assert.Equal(100000u, idmapped.UidMappings![0].HostId);
        Assert.Equal(65536u, idmapped.GidMappings![0].Size);

        var hook = Assert.Single(spec.Hooks!.CreateRuntime!);
        Assert.Equal("/usr/bin/netsetup", hook.Path);
        Assert.Equal(["netsetup", "up"], hook.Args!);
        Assert.Equal(5, hook.Timeout);
        Assert.Null(spec.Hooks.Poststop![0].Timeout);
        Assert.Null(spec.Hooks.Prestart);
    }

    [Fact]
    public void ReadSpec_MapsLinuxSection()
    {
        var linux = OciJson.ReadSpec(RuncLikeConfig).Linux!;

        Assert.Equal(8, linux.Namespaces!.Count);
        Assert.Equal("pid", linux.Namespaces[0].Type);
        Assert.Null(linux.Namespaces[0].Path);
        Assert.Equal("/var/run/netns/crate", linux.Namespaces[1].Path);
        Assert.Equal(0u, linux.UidMappings![0].ContainerId);
        Assert.Equal(1000u, linux.UidMappings[0].HostId);
        Assert.Equal(1u, linux.GidMappings![0].Size);
        Assert.Equal("1", linux.Sysctl!["net.ipv4.ip_forward"]);
        Assert.Equal("/crates/abc", linux.CgroupsPath);
        Assert.Equal("rslave", linux.RootfsPropagation);
        Assert.Equal(["/proc/acpi", "/proc/kcore", "/sys/firmware"], linux.MaskedPaths!);
        Assert.Equal(["/proc/bus", "/proc/sys"], linux.ReadonlyPaths!);
        Assert.Equal("system_u:object_r:container_file_t:s0", linux.MountLabel);
        Assert.Equal(172800, linux.TimeOffsets!["monotonic"].Secs);
        Assert.Equal(-3600, linux.TimeOffsets["boottime"].Secs);

        var dev = Assert.Single(linux.Devices!);
        Assert.Equal(("/dev/fuse", "c", 10L, 229L), (dev.Path, dev.Type, dev.Major, dev.Minor));
        Assert.Equal(438u, dev.FileMode);
        Assert.Equal(0u, dev.Uid);

        Assert.Equal("guaranteed", linux.IntelRdt!.ClosId);
        Assert.Equal("L3:0=7f0", linux.IntelRdt.L3CacheSchema);
        Assert.True(linux.IntelRdt.EnableCMT);
        Assert.False(linux.IntelRdt.EnableMBM);
        Assert.Equal("LINUX32", linux.Personality!.Domain);

        var r = linux.Resources!;
        Assert.False(r.Devices![0].Allow);
        Assert.Null(r.Devices[0].Type);
        Assert.Null(r.Devices[0].Major);
        Assert.Equal("c", r.Devices[1].Type);
        Assert.Equal(1L, r.Devices[1].Major);
        Assert.Equal(3L, r.Devices[1].Minor);
        Assert.Equal(536870912L, r.Memory!.Limit);
        Assert.Equal(-1L, r.Memory.Swap);
        Assert.Equal(-1L, r.Memory.Reservation);
        Assert.Null(r.Memory.Kernel);
        Assert.Equal(1048576L, r.Memory.KernelTCP);
        Assert.Equal(60ul, r.Memory.Swappiness);
        Assert.False(r.Memory.DisableOOMKiller);
        Assert.Null(r.Memory.UseHierarchy);
        Assert.True(r.Memory.CheckBeforeUpdate);
        Assert.Equal(1024ul, r.Cpu!.Shares);
        Assert.Equal(50000L, r.Cpu.Quota);
        Assert.Null(r.Cpu.Burst);
        Assert.Equal(100000ul, r.Cpu.Period);
        Assert.Equal(950000L, r.Cpu.RealtimeRuntime);
        Assert.Equal(1000000ul, r.Cpu.RealtimePeriod);
        Assert.Equal("0-3", r.Cpu.Cpus);
        Assert.Equal("0", r.Cpu.Mems);
        Assert.Equal(0L, r.Cpu.Idle);
        Assert.Equal(512L, r.Pids!.Limit);
        Assert.Equal((ushort)500, r.BlockIO!.Weight);
        Assert.Equal((ushort)600, r.BlockIO.WeightDevice![0].Weight);
        Assert.Equal(104857600ul, r.BlockIO.ThrottleReadBpsDevice![0].Rate);
        Assert.Equal(16L, r.BlockIO.ThrottleWriteIopsDevice![0].Minor);
        Assert.Null(r.BlockIO.ThrottleReadIopsDevice);
        Assert.Equal("2MB", r.HugepageLimits![0].PageSize);
        Assert.Equal(1048577u, r.Network!.ClassId);
        Assert.Equal("eth0", r.Network.Priorities![0].Name);
        Assert.Equal(10000u, r.Rdma!["mlx5_1"].HcaObjects);
        Assert.Equal("400M", r.Unified!["memory.high"]);

        var sc = linux.Seccomp!;
        Assert.Equal("SCMP_ACT_ERRNO", sc.DefaultAction);
        Assert.Equal(1u, sc.DefaultErrnoRet);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], sc.Architectures!);
        Assert.Equal(["SECCOMP_FILTER_FLAG_LOG"], sc.Flags!);
        Assert.Equal("/run/seccomp-agent.sock", sc.ListenerPath);
        Assert.Equal("meta", sc.ListenerMetadata);
        Assert.Equal(3, sc.Syscalls!.Count);
        Assert.Equal(["read", "write", "exit_group"], sc.Syscalls[0].Names);
        Assert.Null(sc.Syscalls[0].Args);
        Assert.Null(sc.Syscalls[0].ErrnoRet);
        var personalityArg = Assert.Single(sc.Syscalls[1].Args!);
        Assert.Equal((0u, 4294967295ul, 0ul, "SCMP_CMP_EQ"),
            (personalityArg.Index, personalityArg.Value, personalityArg.ValueTwo, personalityArg.Op));
        Assert.Equal(38u, sc.Syscalls[2].ErrnoRet);
        Assert.Equal(2114060288ul, sc.Syscalls[2].Args![0].ValueTwo);
        Assert.Equal("SCMP_CMP_MASKED_EQ", sc.Syscalls[2].Args![0].Op);
    }

    [Fact]
    public void Serialize_UsesSpecNamesAndOmitsNullsAndFalseFlags()
    {
        var json = OciJson.Serialize(OciJson.ReadSpec(RuncLikeConfig));
        var root = JsonNode.Parse(json)!.AsObject();

        // camelCase oddities
        var process = root["process"]!.AsObject();
        Assert.Equal(-500, (int)process["oomScoreAdj"]!);
        Assert.True((bool)process["noNewPrivileges"]!);
        Assert.Equal(80, (int)process["consoleSize"]!["width"]!);
        Assert.Equal(10, (int)process["user"]!["additionalGids"]![1]!);
        Assert.Equal("IOPRIO_CLASS_BE", (string?)process["ioPriority"]!["class"]);
        var linux = root["linux"]!.AsObject();
        Assert.Equal(1000, (int)linux["uidMappings"]![0]!["hostID"]!);
        Assert.Equal(0, (int)linux["uidMappings"]![0]!["containerID"]!);
        Assert.Equal("/crates/abc", (string?)linux["cgroupsPath"]);
        Assert.Equal("rslave", (string?)linux["rootfsPropagation"]);
        Assert.Equal(438, (int)linux["devices"]![0]!["fileMode"]!);
        Assert.Equal(1, (int)linux["seccomp"]!["defaultErrnoRet"]!);
        Assert.Equal(38, (int)linux["seccomp"]!["syscalls"]![2]!["errnoRet"]!);
        Assert.Equal(2114060288L, (long)linux["seccomp"]!["syscalls"]![2]!["args"]![0]!["valueTwo"]!);
        var memory = linux["resources"]!["memory"]!.AsObject();
        Assert.Equal(1048576, (long)memory["kernelTCP"]!);
        Assert.False((bool)memory["disableOOMKiller"]!); // explicit false on a bool? is kept
        Assert.Equal(950000, (long)linux["resources"]!["cpu"]!["realtimeRuntime"]!);
        Assert.Equal(300, (int)linux["resources"]!["blockIO"]!["throttleWriteIOPSDevice"]![0]!["rate"]!);
        Assert.Equal("2MB", (string?)linux["resources"]!["hugepageLimits"]![0]!["pageSize"]);
        Assert.Equal(1048577, (long)linux["resources"]!["network"]!["classID"]!);
        Assert.Equal("guaranteed", (string?)linux["intelRdt"]!["closID"]);
        Assert.True((bool)linux["intelRdt"]!["enableCMT"]!);
        Assert.Equal(5, (int)root["hooks"]!["createRuntime"]![0]!["timeout"]!);
        Assert.Equal(65536, (int)root["mounts"]![2]!["uidMappings"]![0]!["size"]!);

        // nulls omitted
        Assert.False(root.ContainsKey("domainname"));
        Assert.False(process["user"]!.AsObject().ContainsKey("username"));
        Assert.False(process["capabilities"]!.AsObject().ContainsKey("inheritable"));
        Assert.False(process.ContainsKey("commandLine"));
        Assert.False(root["hooks"]!.AsObject().ContainsKey("prestart"));
        Assert.False(root["hooks"]!["poststop"]![0]!.AsObject().ContainsKey("timeout"));
        Assert.False(root["mounts"]![0]!.AsObject().ContainsKey("options"));
        Assert.False(linux["namespaces"]![0]!.AsObject().ContainsKey("path"));
        Assert.False(linux["resources"]!["devices"]![0]!.AsObject().ContainsKey("major"));
        Assert.False(memory.ContainsKey("kernel"));
        Assert.False(memory.ContainsKey("useHierarchy"));
        Assert.False(linux["seccomp"]!["syscalls"]![0]!.AsObject().ContainsKey("args"));
        Assert.False(linux["intelRdt"]!.AsObject().ContainsKey("enableMBM"));
        Assert.False(linux["personality"]!.AsObject().ContainsKey("flags"));
        // valueTwo == 0 is omitted, like runc's omitempty
        Assert.False(linux["seccomp"]!["syscalls"]![1]!["args"]![0]!.AsObject().ContainsKey("valueTwo"));

        // unknown input fields are not carried over
        Assert.False(root.ContainsKey("x-vendor-extension"));
        Assert.False(root.ContainsKey("windows"));
        Assert.False(process.ContainsKey("someFutureField"));

        // required/value members are always written
        Assert.Equal(1000, (int)process["user"]!["uid"]!);
        Assert.Equal("/", (string?)process["cwd"]);
        Assert.Equal("1.2.0", (string?)root["ociVersion"]);
        // nanosecs == 0 is omitted (omitempty in the reference types)
        Assert.Equal(["secs"], linux["timeOffsets"]!["monotonic"]!.AsObject().Select(kv => kv.Key));
    }

    [Fact]
    public void Serialize_DefaultFlagsAreOmitted_AndTextIsNotOverEscaped()
    {
        var spec = new Spec
        {
            OciVersion = "1.2.0",
            Process = new Process { Cwd = "/", Args = ["echo", "a+b <&> é"] },
            Root = new Root { Path = "rootfs" },
        };

        var json = OciJson.Serialize(spec, indented: false);

        Assert.Equal(
            """{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0},"args":["echo","a+b <&> é"],"cwd":"/"},"root":{"path":"rootfs"}}""",
            json);
    }

    [Fact]
    public void RoundTrip_IsStable()
    {
        var first = OciJson.Serialize(OciJson.ReadSpec(RuncLikeConfig));
        var second = OciJson.Serialize(OciJson.ReadSpec(first));

        Assert.Equal(first, second);
        Assert.Contains('\n', first); // Serialize(Spec) is indented by default
        Assert.DoesNotContain('\n', OciJson.Write(OciJson.ReadSpec(first), indented: false));
    }

    [Fact]
    public void ReadSpec_MatchesPropertyNamesCaseInsensitively_LikeGo()
    {
        var spec = OciJson.ReadSpec("""
            { "ociVersion": "1.0.2", "Linux": { "UIDMappings": [ { "ContainerID": 0, "HostId": 5, "size": 1 } ] } }
            """);

        Assert.Equal(5u, spec.Linux!.UidMappings![0].HostId);
    }

    [Fact]
    public void ReadSpec_MalformedJson_ThrowsOneLineFormatException()
    {
        var ex = Assert.Throws<FormatException>(() => OciJson.ReadSpec("{ \"ociVersion\": \"1.2.0\",\n \"process\": { \"cwd\": / } }"));

        Assert.StartsWith("config.json: malformed JSON: ", ex.Message);
        Assert.Contains("LineNumber: 1", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.IsType<JsonException>(ex.InnerException, exactMatch: false);
    }

    [Theory]
    [InlineData("""{ "process": { "user": { "uid": -1 }, "cwd": "/" } }""", "$.process.user.uid")]
    [InlineData("""{ "process": { "user": { "uid": 0 }, "cwd": null } }""", "cwd")]
    [InlineData("""{ "linux": { "namespaces": { "type": "pid" } } }""", "$.linux.namespaces")]
    [InlineData("""{ "linux": { "seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [ { "names": null, "action": "SCMP_ACT_KILL" } ] } } }""", "names")]
    public void ReadSpec_WrongTypesAndNullRequiredMembers_ThrowFormatException(string json, string expectedInMessage)
    {
        var ex = Assert.Throws<FormatException>(() => OciJson.ReadSpec(json));

        Assert.Contains(expectedInMessage, ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    public void ReadSpec_NonObjectDocument_ThrowsFormatException(string json) =>
        Assert.Throws<FormatException>(() => OciJson.ReadSpec(json));

    [Fact]
    public void LoadSpec_NamesTheFileInErrors_AndReadsValidFiles()
    {
        var dir = Directory.CreateTempSubdirectory("craterun-oci-");
        try
        {
            var bad = Path.Combine(dir.FullName, "config.json");
            File.WriteAllText(bad, "{ \"ociVersion\": ");
            var ex = Assert.Throws<FormatException>(() => OciJson.LoadSpec(bad));
            Assert.StartsWith($"config file {bad}: malformed JSON: ", ex.Message);

            File.WriteAllText(bad, RuncLikeConfig);
            Assert.Equal("rootfs", OciJson.LoadSpec(bad).Root!.Path);

            Assert.Throws<FileNotFoundException>(() => OciJson.LoadSpec(Path.Combine(dir.FullName, "missing.json")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void ReadProcess_ReadsABareProcessDocument()
    {
        var p = OciJson.ReadProcess("""
            {
              "user": { "uid": 0, "gid": 0 },
              "args": [ "/bin/ps", "aux" ],
              "env": [ "PATH=/bin" ],
              "cwd": "/tmp",
              "capabilities": { "bounding": [ "CAP_KILL" ] },
              "noNewPrivileges": true,
              "unknown": 1,
            }
            """);

        Assert.Equal(["/bin/ps", "aux"], p.Args!);
        Assert.Equal("/tmp", p.Cwd);
        Assert.True(p.NoNewPrivileges);
        Assert.False(p.Terminal);
        Assert.Equal(["CAP_KILL"], p.Capabilities!.Bounding!);
    }

    [Fact]
    public void ReadResources_ReadsAnUpdateDocument()
    {
        var r = OciJson.ReadResources("""
            { "memory": { "limit": 1073741824, "swap": -1 }, "cpu": { "quota": -1, "burst": 1000 }, "pids": { "limit": -1 } }
            """);

        Assert.Equal(1073741824L, r.Memory!.Limit);
        Assert.Equal(-1L, r.Memory.Swap);
        Assert.Equal(-1L, r.Cpu!.Quota);
        Assert.Equal(1000ul, r.Cpu.Burst);
        Assert.Equal(-1L, r.Pids!.Limit);
        Assert.Null(r.BlockIO);
        Assert.Equal("""{"memory":{"limit":1073741824,"swap":-1},"cpu":{"quota":-1,"burst":1000},"pids":{"limit":-1}}""",
            OciJson.Write(r, indented: false));
    }

    [Fact]
    public void OciState_AlwaysWritesPid_AndOmitsMissingAnnotations()
    {
        var state = new OciState
        {
            OciVersion = "1.2.0",
            Id = "abc",
            Status = OciStatus.Stopped,
            Pid = 0,
            Bundle = "/run/bundles/abc",
        };

        Assert.Equal(
            """{"ociVersion":"1.2.0","id":"abc","status":"stopped","pid":0,"bundle":"/run/bundles/abc"}""",
            OciJson.Write(state, indented: false));

        var back = OciJson.ReadState("""
            {"ociVersion":"1.2.0","id":"abc","status":"running","pid":4242,"bundle":"/b","annotations":{"k":"v"},"created":"2024-01-01T00:00:00Z"}
            """);
        Assert.Equal((OciStatus.Running, 4242, "/b", "v"), (back.Status, back.Pid, back.Bundle, back.Annotations!["k"]));
    }

    [Fact]
    public void Features_SerializesSpecNames()
    {
        var features = new Features
        {
            OciVersionMin = "1.0.0",
            OciVersionMax = "1.2.0",
            Hooks = ["prestart", "createRuntime"],
            MountOptions = ["ro", "rbind"],
            Linux = new FeaturesLinux
            {
                Namespaces = ["pid", "mount"],
                Capabilities = ["CAP_KILL"],
                Cgroup = new FeaturesCgroup { V1 = false, V2 = true, Systemd = true, SystemdUser = true, Rdma = true },
                Seccomp = new FeaturesSeccomp
                {
                    Enabled = true,
                    Actions = ["SCMP_ACT_ALLOW"],
                    Operators = ["SCMP_CMP_EQ"],
                    Archs = ["SCMP_ARCH_X86_64"],
                    KnownFlags = ["SECCOMP_FILTER_FLAG_LOG"],
                    SupportedFlags = [],
                },
                Apparmor = new FeaturesApparmor { Enabled = true },
                Selinux = new FeaturesSelinux { Enabled = false },
                IntelRdt = new FeaturesIntelRdt { Enabled = true },
                MountExtensions = new FeaturesMountExtensions { IdMap = new FeaturesIdMap { Enabled = true } },
            },
            Annotations = new() { ["org.opencontainers.runc.version"] = "x" },
        };

        var json = OciJson.Serialize(features);
        var node = JsonNode.Parse(json)!;

        Assert.Equal("1.0.0", (string?)node["ociVersionMin"]);
        Assert.Equal("1.2.0", (string?)node["ociVersionMax"]);
        Assert.Equal("createRuntime", (string?)node["hooks"]![1]);
        Assert.Equal("rbind", (string?)node["mountOptions"]![1]);
        Assert.False((bool)node["linux"]!["cgroup"]!["v1"]!);
        Assert.True((bool)node["linux"]!["cgroup"]!["systemdUser"]!);
        Assert.True((bool)node["linux"]!["cgroup"]!["rdma"]!);
        Assert.Equal("SECCOMP_FILTER_FLAG_LOG", (string?)node["linux"]!["seccomp"]!["knownFlags"]![0]);
        Assert.Empty(node["linux"]!["seccomp"]!["supportedFlags"]!.AsArray());
        Assert.True((bool)node["linux"]!["mountExtensions"]!["idmap"]!["enabled"]!);
        Assert.True((bool)node["linux"]!["intelRdt"]!["enabled"]!);
        Assert.Equal("x", (string?)node["annotations"]!["org.opencontainers.runc.version"]);
        Assert.False(node.AsObject().ContainsKey("potentiallyUnsafeConfigAnnotations"));

        var back = OciJson.ReadFeatures(json);
        Assert.Equal(["pid", "mount"], back.Linux!.Namespaces!);
        Assert.True(back.Linux.MountExtensions!.IdMap!.Enabled);
    }

    [Fact]
    public void Write_RejectsTypesOutsideTheContext() =>
        Assert.Throws<NotSupportedException>(() => OciJson.Write(new NotInContext()));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_fast_path_writer_writes_the_bytes_of_the_metadata_based_serializer(bool indented)
    {
        // OciJson writes a Spec with the generated serialization code called directly; System.Text.Json's
        // metadata-driven serializer (OciJsonContext, same writer options) is the reference.
        foreach (var spec in new[] { OciJson.ReadSpec(RuncLikeConfig), new Spec() })
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions
            {
                Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                Indented = indented,
            }))
            {
                JsonSerializer.Serialize(writer, spec, OciJsonContext.Default.Spec);
            }

            Assert.Equal(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan), System.Text.Encoding.UTF8.GetString(OciJson.WriteUtf8Bytes(spec, indented)));
        }
    }

    private sealed class NotInContext
    {
        public int X { get; set; }
    }
}
