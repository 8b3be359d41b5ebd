using CrateRun.Core;

namespace CrateRun.Cli;

/// <summary>The embedded default container: a rootfs holding one static program (HelloWorld/hello.c).</summary>
public static class HelloWorld
{
    /// <summary>Unpacks the rootfs under the state root once; returns its path.</summary>
    public static string Extract(string storeRoot)
    {
        var dir = Path.Combine(storeRoot, ".images", "hello-world");
        if (File.Exists(Path.Combine(dir, "hello"))) return dir;
        using var resource = typeof(HelloWorld).Assembly.GetManifestResourceStream("hello")
            ?? throw new CrateRunException("this build of craterun has no embedded hello-world");
        var tmp = dir + ".tmp-" + Environment.ProcessId;
        Directory.CreateDirectory(tmp);
        foreach (var d in new[] { "bin", "etc", "proc", "dev", "sys", "tmp" }) Directory.CreateDirectory(Path.Combine(tmp, d));
        var exe = Path.Combine(tmp, "hello");
        using (var f = File.Create(exe)) resource.CopyTo(f);
        File.SetUnixFileMode(exe, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            Directory.Move(tmp, dir);
        }
        catch (IOException)
        {
            Directory.Delete(tmp, recursive: true); // another run unpacked it first
        }
        return dir;
    }
}
