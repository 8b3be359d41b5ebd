namespace CrateRun.Core.Tests;

public class QuantitiesTests
{
    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("1m", 1L << 20)]
    [InlineData("64m", 64L << 20)]
    [InlineData("64M", 64L << 20)]
    [InlineData("64mb", 64L << 20)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("1024k", 1L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("2t", 2L << 40)]
    [InlineData(" 8m ", 8L << 20)]
    [InlineData("2097152b", 2L << 20)]
    public void ParseMemory_accepts_bytes_and_binary_suffixes(string text, long expected) =>
        Assert.Equal(expected, Quantities.ParseMemory(text));

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("-1")]
    [InlineData("64x")]
    [InlineData("64 mm")]
    [InlineData("1,5g")]
    [InlineData("1e9")]
    public void ParseMemory_rejects_malformed_sizes(string text)
    {
        var e = Assert.Throws<UsageException>(() => Quantities.ParseMemory(text));
        Assert.Contains("--memory", e.Message);
        Assert.Equal(ExitCodes.RuntimeError, e.ExitCode);
    }

    [Theory]
    [InlineData("196607")]
    [InlineData("191k")]
    [InlineData("0.1m")]
    [InlineData("0")]
    public void ParseMemory_rejects_less_than_192k(string text) =>
        Assert.Contains("minimum is 192k", Assert.Throws<UsageException>(() => Quantities.ParseMemory(text)).Message);

    [Theory]
    [InlineData("192k", 196608)]
    [InlineData("256k", 262144)]
    [InlineData("1023k", 1047552)]
    public void ParseMemory_takes_sizes_a_container_can_start_in(string text, long bytes) =>
        Assert.Equal(bytes, Quantities.ParseMemory(text));

    [Theory]
    [InlineData("5000000t")]
    [InlineData("9223372036854775807")]
    public void ParseMemory_rejects_absurdly_large_sizes(string text) =>
        Assert.Contains("too large", Assert.Throws<UsageException>(() => Quantities.ParseMemory(text)).Message);

    [Fact]
    public void ParseMemory_overflowing_decimal_is_a_usage_error() =>
        Assert.Throws<UsageException>(() => Quantities.ParseMemory("100000000000000000000t"));

    [Theory]
    [InlineData("50000 100000", 50000L, 100000UL)]
    [InlineData("50000/100000", 50000L, 100000UL)]
    [InlineData("  200000\t100000 ", 200000L, 100000UL)]
    [InlineData("1000 1000", 1000L, 1000UL)]
    [InlineData("5000000 1000000", 5000000L, 1000000UL)]
    public void ParseCpu_takes_quota_and_period(string text, long quota, ulong period) =>
        Assert.Equal((quota, period), Quantities.ParseCpu(text));

    [Theory]
    [InlineData("50000")]
    [InlineData("50000 100000 3")]
    [InlineData("max 100000")]
    [InlineData("-1 100000")]
    [InlineData("0.5 100000")]
    [InlineData("50000 999")]
    [InlineData("50000 1000001")]
    [InlineData("999 100000")]
    public void ParseCpu_rejects_bad_pairs(string text) =>
        Assert.Contains("--cpu", Assert.Throws<UsageException>(() => Quantities.ParseCpu(text)).Message);

    [Theory]
    [InlineData("0.5", 50000L)]
    [InlineData("1", 100000L)]
    [InlineData("2.25", 225000L)]
    [InlineData("0.01", 1000L)]
    [InlineData("4096", 409600000L)]
    [InlineData(" 1.5 ", 150000L)]
    public void ParseCpus_is_quota_over_a_100ms_period(string text, long quota) =>
        Assert.Equal((quota, 100_000UL), Quantities.ParseCpus(text, hostCpus: 4096));

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("4097")]
    [InlineData("0.001")]
    [InlineData("0.005")]
    [InlineData("two")]
    [InlineData("")]
    public void ParseCpus_rejects_out_of_range(string text) =>
        Assert.Contains("--cpus", Assert.Throws<UsageException>(() => Quantities.ParseCpus(text, hostCpus: 4096)).Message);

    [Fact]
    public void ParseCpus_above_the_hosts_cpus_is_refused_in_dockers_words()
    {
        Assert.Equal((200_000L, 100_000UL), Quantities.ParseCpus("2", hostCpus: 2));
        var e = Assert.Throws<UsageException>(() => Quantities.ParseCpus("2.5", hostCpus: 2));
        Assert.Contains("range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available", e.Message);
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("100", 100L)]
    [InlineData(" 42 ", 42L)]
    [InlineData("-1", -1L)]
    [InlineData("4194304", 4194304L)]
    public void ParsePids_accepts_positive_or_unlimited(string text, long expected) =>
        Assert.Equal(expected, Quantities.ParsePids(text));

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("1.5")]
    [InlineData("many")]
    [InlineData("")]
    [InlineData("99999999999")] // above the kernel's PID_MAX_LIMIT: pids.max would say EINVAL
    [InlineData("4194305")]
    public void ParsePids_rejects_the_rest(string text) =>
        Assert.Contains("--pids", Assert.Throws<UsageException>(() => Quantities.ParsePids(text)).Message);
}
