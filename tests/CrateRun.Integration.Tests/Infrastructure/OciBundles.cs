using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>
/// OCI bundles made the way a client makes them: `runc spec` (the reference config, as
/// runc's own users start from it), then varied per test; and craterun-oci driven like runc.
/// </summary>
public sealed class OciBundles(CrateRunFixture f)
{
    public string Dir { get; } = Directory.CreateDirectory(Path.Combine(f.TempBase, "oci-" + Guid.NewGuid().ToString("N")[..8])).FullName;
    public string StateRoot => Path.Combine(Dir, "state");

    public static string NewId(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    public string Oci
    {
        get
        {
            var link = Path.Combine(Path.GetDirectoryName(f.Binary)!, "craterun-oci");
            return File.Exists(link) ? link : throw new InvalidOperationException($"{link} is missing (build.sh makes it)");
        }
    }

    /// <summary>`runc spec` with root.path the fixture's rootfs (read-write), no terminal, and the given args.</summary>
    public async Task<JsonObject> RuncSpec(params string[] args)
    {
        var tmp = Directory.CreateDirectory(Path.Combine(Dir, "spec-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var r = await Proc.Run("runc", ["spec", "--bundle", tmp]);
        Assert.True(r.ExitCode == 0, "runc spec (a test prerequisite, tests/install-prereqs.sh) failed\n" + r);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp, "config.json")))!.AsObject();
        config["root"] = new JsonObject { ["path"] = f.Rootfs, ["readonly"] = false };
        var process = config["process"]!.AsObject();
        process["terminal"] = false;
        process["args"] = new JsonArray([.. args.Select(a => (JsonNode)a!)]);
        return config;
    }

    /// <summary>Writes config.json into a new bundle directory; returns the directory.</summary>
    public string Write(JsonObject config)
    {
        var bundle = Directory.CreateDirectory(Path.Combine(Dir, "bundle-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    /// <summary>craterun-oci --root STATE ARGS...</summary>
    /// <summary>DIR/NAME/config.json holding <paramref name="config"/>; returns the bundle directory.</summary>
    public static string WriteBundle(string dir, string name, JsonObject config)
    {
        var bundle = Path.Combine(dir, name);
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    public Task<ProcResult> Run(params string[] args) => RunWith(TimeSpan.FromSeconds(30), args);

    public Task<ProcResult> RunWith(TimeSpan timeout, params string[] args) =>
        Proc.Run(Oci, ["--root", StateRoot, .. args], timeout: timeout, env: f.Env);

    /// <summary>`run --bundle B ID`, tracked for the suite's leak check.</summary>
    public Task<ProcResult> RunBundle(JsonObject config, string id)
    {
        CrateRunFixture.Track(id);
        return Run("run", "--bundle", Write(config), id);
    }

    public bool StateLeft(string id) => Directory.Exists(Path.Combine(StateRoot, id));

    /// <summary>The namespace link of a process ("net:[4026531840]").</summary>
    public static string Ns(string pid, string type) => new FileInfo($"/proc/{pid}/ns/{type}").LinkTarget!;

    public static JsonArray Namespaces(JsonObject config) => config["linux"]!["namespaces"]!.AsArray();

    public static void RemoveNamespace(JsonObject config, string type)
    {
        var ns = Namespaces(config);
        foreach (var n in ns.Where(n => (string?)n!["type"] == type).ToList()) ns.Remove(n);
    }

    public static void SetNamespacePath(JsonObject config, string type, string path)
    {
        var ns = Namespaces(config).Single(n => (string?)n!["type"] == type)!.AsObject();
        ns["path"] = path;
    }
}

/// <summary>
/// The receiving end of --console-socket, as a client such as containerd's shim or runc's
/// recvtty holds it: accepts one connection and takes the pty master sent with SCM_RIGHTS.
/// </summary>
public sealed class ConsoleSocket : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    public string Path { get; }

    public ConsoleSocket(string dir)
    {
        Path = System.IO.Path.Combine(dir, "console-" + Guid.NewGuid().ToString("N")[..8] + ".sock");
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen(1);
    }

    /// <summary>Waits for the runtime to connect and send the master; returns it as a stream.</summary>
    public async Task<FileStream> ReceiveMaster(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var conn = await _listener.AcceptAsync(cts.Token);
        var fd = ReceiveFd((int)conn.Handle);
        return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, 1, false);
    }

    /// <summary>Everything the terminal shows until the process closes it (EIO once the slave is gone).</summary>
    public static async Task<string> ReadAll(FileStream master, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var text = new System.Text.StringBuilder();
        var buf = new byte[4096];
        return await Task.Run(() =>
        {
            while (!cts.IsCancellationRequested)
            {
                int n;
                try { n = master.Read(buf); }
                catch (IOException) { break; } // EIO: the last slave fd closed
                if (n <= 0) break;
                text.Append(System.Text.Encoding.UTF8.GetString(buf, 0, n));
            }
            return text.ToString();
        }, cts.Token);
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec { public void* Base; public nuint Len; }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct MsgHdr
    {
        public void* Name; public uint NameLen; public IoVec* Iov; public nuint IovLen;
        public void* Control; public nuint ControlLen; public int Flags;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe nint recvmsg(int sock, MsgHdr* msg, int flags);

    private static unsafe int ReceiveFd(int sock)
    {
        byte data;
        var iov = new IoVec { Base = &data, Len = 1 };
        var control = stackalloc byte[64];
        var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = 64 };
        if (recvmsg(sock, &msg, 0x40000000 /* MSG_CMSG_CLOEXEC */) < 0)
            throw new IOException($"recvmsg: errno {Marshal.GetLastPInvokeError()}");
        // struct cmsghdr { size_t len; int level; int type; } then the data
        var level = *(int*)(control + 8);
        var type = *(int*)(control + 12);
        if (msg.ControlLen < 20 || level != 1 /* SOL_SOCKET */ || type != 1 /* SCM_RIGHTS */)
            throw new IOException("the console socket received no fd");
        return *(int*)(control + 16);
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(Path);
    }
}
