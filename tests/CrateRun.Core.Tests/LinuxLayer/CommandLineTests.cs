using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// Native/command_line.c through its P/Invoke: the reading of argv that decides, before the .NET runtime
/// starts, whether a command line is `run` (the C front) or `exec` (re-executed from a sealed copy), and
/// afterwards which command the parser builds. A word the user gave as data must never count.
/// </summary>
public class CommandLineTests
{
    public static TheoryData<string[], string?> Lines() => new()
    {
        { [], null },
        { ["run", "--rm", "--rootfs", "/r", "--", "/bin/true"], "run" },
        { ["--root", "/tmp/exec", "ps"], "ps" },              // a global option's value is not the command
        { ["--root=/tmp/x", "exec", "c1", "ls"], "exec" },     // --opt=value is one word
        { ["--log", "run", "--log-format", "json", "exec", "id", "true"], "exec" },
        { ["--criu", "x", "--rootless", "true", "state", "id"], "state" },
        { ["--debug", "exec", "id", "true"], "exec" },          // a flag without a value
        { ["oci", "--root", "/r", "exec", "id", "sh"], "exec" }, // the OCI face's command follows "oci"
        { ["oci"], null },
        { ["run", "--name", "exec", "--rootfs", "/r", "--", "exec"], "run" }, // "exec" as data
        { ["--", "run", "x"], "run" },
        { ["--root", "/r", "--"], null },
        { ["-", "run"], "-" },
        { ["--help"], null },
        { ["--root"], null },
        { ["ps", "oci"], "ps" },
        { ["exec", "oci"], "exec" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void TheCommandWord_IsTheFirstWordThatIsNeitherAnOptionNorItsValue(string[] args, string? expected) =>
        Assert.Equal(expected, CommandLine.CommandWord(args));

    [Fact]
    public void AWordOfManyBytes_IsRead_Whole()
    {
        string[] args = ["--root", "/tmp/é", "exéc"];
        Assert.Equal("exéc", CommandLine.CommandWord(args));
    }
}
