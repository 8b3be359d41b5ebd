using CrateRun.Core.Config;

namespace CrateRun.Core.Tests.Config;

public class VolumeTests
{
    [Theory]
    [InlineData("/host/data:/data", "/host/data", "/data", false)]
    [InlineData("/host/data:/data:rw", "/host/data", "/data", false)]
    [InlineData("/host/data:/data:ro", "/host/data", "/data", true)]
    [InlineData("/:/mnt/host:ro", "/", "/mnt/host", true)]
    public void Parse_reads_host_container_and_mode(string spec, string host, string ctr, bool ro) =>
        Assert.Equal(new Volume(host, ctr, ro), Volume.Parse(spec));

    [Theory]
    [InlineData("/data", "expected HOSTDIR:CTRDIR")]
    [InlineData("/a:/b:ro:x", "expected HOSTDIR:CTRDIR")]
    [InlineData(":/data", "expected HOSTDIR:CTRDIR")]
    [InlineData("/data:", "expected HOSTDIR:CTRDIR")]
    [InlineData("/a:/b:RO", "mode must be ro or rw")]
    [InlineData("/a:/b:z", "mode must be ro or rw")]
    [InlineData("/a:/b:", "mode must be ro or rw")]
    [InlineData("data:/data", "host path 'data' must be absolute")]
    [InlineData("./data:/data", "host path './data' must be absolute")]
    [InlineData("/data:data", "container path 'data' must be absolute")]
    public void Parse_rejects_malformed_specs(string spec, string message)
    {
        var e = Assert.Throws<UsageException>(() => Volume.Parse(spec));
        Assert.Contains(message, e.Message);
        Assert.Contains(spec, e.Message);
    }
}
