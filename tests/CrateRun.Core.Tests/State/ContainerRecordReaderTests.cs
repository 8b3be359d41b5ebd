using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using CrateRun.Core.Oci;
using CrateRun.Core.State;

namespace CrateRun.Core.Tests.State;

/// <summary>
/// The hand-written metadata.json reader against System.Text.Json's own (the writer's
/// counterpart): same record from the same bytes, for a record with every member set.
/// </summary>
public sealed class ContainerRecordReaderTests
{
    private static ContainerRecord Full() => new()
    {
        Id = "abc", Name = "web", Bundle = "/b", Rootfs = "/b/rootfs", Command = ["sh", "-c", "echo \"hi\" \u00e9"],
        Status = ContainerStatus.Running, Pid = 42, PidStartTime = 123456789012, MonitorPid = 41, MonitorStartTime = 98765,
        Created = new DateTimeOffset(2026, 11, 30, 1, 2, 3, 456, TimeSpan.Zero), Started = new DateTimeOffset(2026, 11, 30, 1, 2, 4, TimeSpan.FromHours(2)),
        Finished = DateTimeOffset.UnixEpoch, ExitCode = 137, OomKilled = true, AutoRemove = true, Tty = true, Hostname = "h",
        Limits = new ContainerLimits { MemoryBytes = 1 << 20, Pids = 10, CpuQuota = 50000, CpuPeriod = 100000 },
        CgroupPaths = new() { ["memory"] = "/sys/fs/cgroup/memory/x", ["pids"] = "/sys/fs/cgroup/pids/x" },
        CgroupCreatedParents = ["/sys/fs/cgroup/pids/p"],
        Annotations = new() { ["org.example/a"] = "1" },
        Hooks = new Hooks
        {
            Prestart = [Hook("/pre")], CreateRuntime = [Hook("/cr")], CreateContainer = [Hook("/cc")],
            StartContainer = [Hook("/sc")], Poststart = [Hook("/ps"), Hook("/ps2")], Poststop = [Hook("/stop")],
        },
        LogsStopped = "disk full", Face = "oci",
        Labels = new() { ["tier"] = "web" }, KeepOnFailure = true, RestartCount = 2, StopSignal = "SIGUSR1", StopTimeout = 3,
        RestartPolicy = "on-failure:3", StoppedByUser = true, IpcMode = "shareable",
        Healthcheck = new HealthCheck { Test = ["CMD-SHELL", "true"], IntervalMs = 1000, TimeoutMs = 2000, Retries = 3, StartPeriodMs = 500 },
        Health = new HealthState
        {
            Status = "healthy", FailingStreak = 1,
            Log = [new HealthProbe { Start = DateTimeOffset.UnixEpoch, End = DateTimeOffset.UnixEpoch.AddSeconds(1), ExitCode = 1, Output = "no" }],
        },
        Network = new Core.Network.NetworkSettings
        {
            Mode = "cni", Networks = ["bridge"], JoinedContainer = "other", Ports = [new Core.Network.PortMapping { HostPort = 8080, ContainerPort = 80, HostIp = "127.0.0.1" }],
            Dns = ["10.0.0.53"], ExtraHosts = ["db:10.0.0.2"], Addresses = ["bridge=10.211.0.2/16"],
        },
    };

    private static Hook Hook(string path) => new() { Path = path, Args = [path, "x"], Env = ["A=1"], Timeout = 5 };

    [Fact]
    public void A_record_with_every_member_set_reads_back_as_the_generated_reader_reads_it()
    {
        var full = Full();
        AssertNoDefaultMember(full, "record");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(full, StateJsonWriteContext.Default.ContainerRecord);
        var byHand = ContainerRecordReader.Read(bytes);
        var generated = JsonSerializer.Deserialize(bytes, StateJsonContext.Default.ContainerRecord)!;
        Assert.Equal(Write(generated), Write(byHand));
        Assert.Equal(Encoding.UTF8.GetString(bytes), Write(byHand));
    }

    [Fact]
    public void The_fast_path_writer_writes_the_bytes_of_the_metadata_based_serializer()
    {
        // StateJsonWriteContext.SerializeRecord calls the generated serialization code directly;
        // System.Text.Json's metadata-driven serializer (StateJsonContext, same options) is the reference.
        foreach (var record in new[] { Full(), new ContainerRecord { Id = "min" } })
        {
            var reference = JsonSerializer.SerializeToUtf8Bytes(record, StateJsonContext.Default.ContainerRecord);
            Assert.Equal(Encoding.UTF8.GetString(reference), Encoding.UTF8.GetString(StateJsonWriteContext.SerializeRecord(record)));
        }
    }

    [Fact]
    public void A_network_with_members_left_out_keeps_their_defaults()
    {
        // (the generated reader sets a missing init-only member, PortMapping.Protocol, to null instead:
        // the writer always writes it, so only a hand-edited file can tell them apart)
        var r = ContainerRecordReader.Read("""{"id":"x","network":{"mode":"none","ports":[{"hostPort":1,"containerPort":2}],"later":1}}"""u8);
        Assert.Equal("none", r.Network!.Mode);
        Assert.Empty(r.Network.Networks);
        Assert.Null(r.Network.JoinedContainer);
        Assert.Empty(r.Network.Dns);
        Assert.Equal(new Core.Network.PortMapping { HostPort = 1, ContainerPort = 2, Protocol = "tcp" }, r.Network.Ports.Single());
        Assert.Null(ContainerRecordReader.Read("""{"id":"x","network":null}"""u8).Network);
    }

    [Fact]
    public void A_minimal_record_keeps_the_defaults_and_skips_unknown_members()
    {
        var json = """{"id":"x","created":"2026-11-30T01:02:03+00:00","future":{"a":[1,2,{"b":null}]},"hooks":null,"exitCode":null}"""u8;
        var r = ContainerRecordReader.Read(json);
        var g = JsonSerializer.Deserialize(json, StateJsonContext.Default.ContainerRecord)!;
        Assert.Equal("x", r.Id);
        Assert.Null(r.Hooks);
        Assert.Null(r.ExitCode);
        Assert.Equal(ContainerStatus.Creating, r.Status);
        Assert.Equal("docker", r.Face);
        Assert.Equal(Write(g), Write(r));
    }

    [Theory]
    [InlineData("""{"id":1}""")]
    [InlineData("""{"pid":"x"}""")]
    [InlineData("""{"id":"x" """)]
    [InlineData("""[]""")]
    [InlineData("""{"id":"x"} {}""")]
    public void A_corrupt_record_is_a_JsonException(string json) =>
        Assert.ThrowsAny<JsonException>(() => ContainerRecordReader.Read(Encoding.UTF8.GetBytes(json)));

    private static string Write(ContainerRecord r) =>
        Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(r, StateJsonWriteContext.Default.ContainerRecord));

    [Fact]
    public void A_trailing_comma_is_accepted() =>
        Assert.Equal("x", ContainerRecordReader.Read("""{"id":"x",}"""u8).Id);

    /// <summary>A member left at its default in <see cref="Full"/> would not prove the reader reads it.</summary>
    // reflection over the record's own types, which the test assembly keeps whole (no trimming here)
#pragma warning disable IL2072, IL2075
    private static void AssertNoDefaultMember(object o, string path)
    {
        foreach (var p in o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var v = p.GetValue(o);
            var where = $"{path}.{p.Name}";
            Assert.True(v is not null, $"{where} is null in the sample: set it (and read it in ContainerRecordReader)");
            var t = v.GetType();
            if (t.IsValueType) Assert.False(v.Equals(Activator.CreateInstance(t)), $"{where} is at its default in the sample");
            else if (v is string s) Assert.False(s.Length == 0, $"{where} is empty in the sample");
            else if (v is IEnumerable e)
            {
                var items = e.Cast<object>().ToList();
                Assert.True(items.Count > 0, $"{where} is empty in the sample");
                if (items[0] is Core.Oci.Hook or Core.Network.PortMapping) foreach (var item in items) AssertNoDefaultMember(item, where + "[]");
            }
            else AssertNoDefaultMember(v, where);
        }
    }
#pragma warning restore IL2072, IL2075
}
