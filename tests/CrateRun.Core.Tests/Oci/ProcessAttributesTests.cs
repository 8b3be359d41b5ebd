using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

/// <summary>
/// config.md process.scheduler / process.ioPriority, config-linux.md personality, intelRdt,
/// timeOffsets: the numbers the kernel's UAPI headers give for each name (sched.h, ioprio.h,
/// personality.h), and one line naming the field for anything else.
/// </summary>
public class ProcessAttributesTests
{
    private static Spec Read(string json) => OciJson.ReadSpec(json);

    [Fact]
    public void A_scheduler_from_a_config_becomes_a_sched_attr()
    {
        var spec = Read("""
            { "ociVersion": "1.2.0", "process": { "cwd": "/", "args": ["sh"], "user": { "uid": 0, "gid": 0 },
              "scheduler": { "policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"] } } }
            """);
        Assert.Equal(new SchedulerAttributes(3, 0x01, 5, 0, 0, 0, 0), ProcessAttributes.Scheduler(spec.Process!.Scheduler));
    }

    [Theory]
    [InlineData("SCHED_OTHER", 0u)]
    [InlineData("SCHED_BATCH", 3u)]
    [InlineData("SCHED_IDLE", 5u)]
    public void Non_realtime_policies_map_to_the_kernels_numbers(string policy, uint number) =>
        Assert.Equal(number, ProcessAttributes.Scheduler(new LinuxScheduler { Policy = policy })!.Policy);

    [Fact]
    public void Realtime_and_deadline_policies_carry_their_parameters()
    {
        Assert.Equal(new SchedulerAttributes(1, 0, 0, 10, 0, 0, 0), ProcessAttributes.Scheduler(new LinuxScheduler { Policy = "SCHED_FIFO", Priority = 10 }));
        Assert.Equal(new SchedulerAttributes(2, 0, 0, 99, 0, 0, 0), ProcessAttributes.Scheduler(new LinuxScheduler { Policy = "SCHED_RR", Priority = 99 }));
        Assert.Equal(new SchedulerAttributes(6, 0, 0, 0, 10_000_000, 30_000_000, 100_000_000),
            ProcessAttributes.Scheduler(new LinuxScheduler { Policy = "SCHED_DEADLINE", Runtime = 10_000_000, Deadline = 30_000_000, Period = 100_000_000 }));
    }

    [Fact]
    public void An_absent_scheduler_ioPriority_or_personality_leaves_the_process_alone()
    {
        Assert.Null(ProcessAttributes.Scheduler(null));
        Assert.Null(ProcessAttributes.IoPriority(null));
        Assert.Null(ProcessAttributes.Personality(null));
    }

    public static TheoryData<LinuxScheduler, string> BadSchedulers => new()
    {
        { new LinuxScheduler { Policy = "SCHED_ISO" }, "process.scheduler.policy 'SCHED_ISO'" }, // named by the spec, not in Linux
        { new LinuxScheduler { Policy = "sched_batch" }, "process.scheduler.policy 'sched_batch'" },
        { new LinuxScheduler { Policy = "" }, "process.scheduler.policy ''" },
        { new LinuxScheduler { Policy = "SCHED_OTHER", Nice = 20 }, "process.scheduler.nice 20" },
        { new LinuxScheduler { Policy = "SCHED_OTHER", Nice = -21 }, "process.scheduler.nice -21" },
        { new LinuxScheduler { Policy = "SCHED_FIFO", Priority = 0 }, "process.scheduler.priority 0" },
        { new LinuxScheduler { Policy = "SCHED_RR", Priority = 100 }, "process.scheduler.priority 100" },
        { new LinuxScheduler { Policy = "SCHED_OTHER", Priority = 5 }, "process.scheduler.priority must be 0" },
        { new LinuxScheduler { Policy = "SCHED_OTHER", Flags = ["SCHED_FLAG_BOGUS"] }, "unknown flag 'SCHED_FLAG_BOGUS'" },
        { new LinuxScheduler { Policy = "SCHED_DEADLINE" }, "SCHED_DEADLINE needs runtime and deadline" },
        { new LinuxScheduler { Policy = "SCHED_DEADLINE", Runtime = 20, Deadline = 10 }, "runtime <= deadline <= period" },
        { new LinuxScheduler { Policy = "SCHED_DEADLINE", Runtime = 10, Deadline = 30, Period = 20 }, "runtime <= deadline <= period" },
        { new LinuxScheduler { Policy = "SCHED_BATCH", Runtime = 10 }, "for SCHED_DEADLINE only" },
    };

    [Theory]
    [MemberData(nameof(BadSchedulers))]
    public void A_bad_scheduler_is_one_line_naming_the_field(LinuxScheduler s, string expected)
    {
        var e = Assert.Throws<UsageException>(() => ProcessAttributes.Scheduler(s));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("IOPRIO_CLASS_RT", 0, (1 << 13) | 0)]
    [InlineData("IOPRIO_CLASS_BE", 4, (2 << 13) | 4)]
    [InlineData("IOPRIO_CLASS_IDLE", 7, (3 << 13) | 7)]
    public void An_ioPriority_is_class_shifted_by_13_or_level(string cls, int level, int expected) =>
        Assert.Equal(expected, ProcessAttributes.IoPriority(new LinuxIoPriority { Class = cls, Priority = level }));

    [Theory]
    [InlineData("IOPRIO_CLASS_NONE", 0, "process.ioPriority.class 'IOPRIO_CLASS_NONE'")]
    [InlineData("BE", 0, "process.ioPriority.class 'BE'")]
    [InlineData("IOPRIO_CLASS_BE", 8, "process.ioPriority.priority 8")]
    [InlineData("IOPRIO_CLASS_BE", -1, "process.ioPriority.priority -1")]
    public void A_bad_ioPriority_is_one_line_naming_the_field(string cls, int level, string expected)
    {
        var e = Assert.Throws<UsageException>(() => ProcessAttributes.IoPriority(new LinuxIoPriority { Class = cls, Priority = level }));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("LINUX", 0x0000u)]
    [InlineData("LINUX32", 0x0008u)]
    public void A_personality_domain_is_PER_LINUX_or_PER_LINUX32(string domain, uint persona) =>
        Assert.Equal(persona, ProcessAttributes.Personality(new LinuxPersonality { Domain = domain }));

    [Fact]
    public void An_unknown_personality_domain_or_flag_is_refused()
    {
        Assert.Contains("linux.personality.domain 'LINUX64'",
            Assert.Throws<UsageException>(() => ProcessAttributes.Personality(new LinuxPersonality { Domain = "LINUX64" })).Message);
        Assert.Contains("linux.personality.flags",
            Assert.Throws<UsageException>(() => ProcessAttributes.Personality(new LinuxPersonality { Domain = "LINUX", Flags = ["ADDR_NO_RANDOMIZE"] })).Message);
    }

    [Fact]
    public void IntelRdt_is_refused_naming_the_field()
    {
        var rdt = Read("""{ "ociVersion": "1.2.0", "linux": { "intelRdt": { "closID": "guaranteed_group", "l3CacheSchema": "L3:0=7f0" } } }""");
        Assert.StartsWith("linux.intelRdt is not supported",
            Assert.Throws<UsageException>(() => ProcessAttributes.RefuseUnsupported(rdt.Linux)).Message);
    }

    // timens: time_namespaces(7) has two clocks with offsets; nanoseconds are below a second
    [Fact]
    public void TimeOffsets_of_a_new_time_namespace_are_both_clocks()
    {
        var spec = Read("""{ "ociVersion": "1.2.0", "linux": { "namespaces": [ { "type": "time" } ], "timeOffsets": { "monotonic": { "secs": -5, "nanosecs": 999999999 }, "boottime": { "secs": 86400 } } } }""");
        Assert.Equal(new TimeNamespaceOffsets(-5, 999_999_999, 86400, 0), ProcessAttributes.TimeOffsets(spec.Linux));
        Assert.Null(ProcessAttributes.TimeOffsets(Read("""{ "ociVersion": "1.2.0", "linux": { "namespaces": [ { "type": "time" } ] } }""").Linux));
    }

    [Theory]
    [InlineData("""[]""", """{ "monotonic": { "secs": 1 } }""", "needs a new time namespace")]
    [InlineData("""[ { "type": "time", "path": "/proc/1/ns/time" } ]""", """{ "monotonic": { "secs": 1 } }""", "not the one joined at /proc/1/ns/time")]
    [InlineData("""[ { "type": "time" } ]""", """{ "realtime": { "secs": 1 } }""", "unknown clock 'realtime'")]
    [InlineData("""[ { "type": "time" } ]""", """{ "boottime": { "secs": 1, "nanosecs": 1000000000 } }""", "boottime.nanosecs must be below 1000000000")]
    public void Bad_timeOffsets_are_refused_in_one_line(string namespaces, string offsets, string expected)
    {
        var spec = Read($$"""{ "ociVersion": "1.2.0", "linux": { "namespaces": {{namespaces}}, "timeOffsets": {{offsets}} } }""");
        var message = Assert.Throws<UsageException>(() => ProcessAttributes.TimeOffsets(spec.Linux)).Message;
        Assert.StartsWith("linux.timeOffsets", message);
        Assert.Contains(expected, message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Empty_intelRdt_and_timeOffsets_are_no_request()
    {
        Assert.Null(Record.Exception(() => ProcessAttributes.RefuseUnsupported(Read("""{ "ociVersion": "1.2.0", "linux": { "intelRdt": {}, "timeOffsets": {} } }""").Linux)));
        Assert.Null(Record.Exception(() => ProcessAttributes.RefuseUnsupported(Read("""{ "ociVersion": "1.2.0", "linux": {} }""").Linux)));
        Assert.Null(Record.Exception(() => ProcessAttributes.RefuseUnsupported(null)));
    }
}
