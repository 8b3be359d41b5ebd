using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

/// <summary>The hand-written state writer gives the bytes of the generated serializer, in both layouts.</summary>
public sealed class OciStateJsonTests
{
    private static readonly OciState[] States =
    [
        new OciState { OciVersion = "1.2.0", Id = "c1", Status = OciStatus.Running, Pid = 42, Bundle = "/b" },
        new OciState { OciVersion = "1.2.0", Id = "c2", Status = OciStatus.Stopped, Pid = 0, Bundle = "/b ü \"q\" <&>\\", Annotations = [] },
        new OciState
        {
            OciVersion = "1.2.0", Id = "c3", Status = OciStatus.Created, Pid = 7, Bundle = "/x",
            Annotations = new() { ["io.kubernetes.cri.container-type"] = "sandbox", ["k\"\n"] = "v\t<>&'", ["e"] = "" },
        },
    ];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Writes_what_the_generated_serializer_writes(int which)
    {
        var state = States[which];
        Assert.Equal(OciJson.Serialize(state), OciStateJson.Write(state));
        Assert.Equal(OciJson.Serialize(state, indented: false), OciStateJson.Write(state, indented: false));
    }
}
