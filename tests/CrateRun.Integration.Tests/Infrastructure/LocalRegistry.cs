using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>
/// Debian's docker-registry (distribution 2.8) on 127.0.0.1 and a free port, with its config and
/// storage in a temporary directory; stopped by PID. The access log (stderr) is kept so tests can
/// count what clients fetched.
/// </summary>
public sealed class LocalRegistry : IDisposable
{
    public const string Binary = "/usr/bin/docker-registry";
    public string Dir { get; }
    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";
    public string Storage => Path.Combine(Dir, "storage");
    private readonly string _config;
    private RunningProc? _proc;

    /// <summary>Writes config.yml: <paramref name="extra"/> holds YAML for tls (under http) and auth.</summary>
    public LocalRegistry(string dir, string? tlsYaml = null, string? authYaml = null, int? port = null)
    {
        Dir = dir;
        Directory.CreateDirectory(Storage);
        Port = port ?? FreePort();
        _config = Path.Combine(dir, "config.yml");
        var sb = new StringBuilder();
        sb.AppendLine("version: 0.1");
        sb.AppendLine("log:\n  level: info\n  accesslog:\n    disabled: false");
        sb.AppendLine($"storage:\n  filesystem:\n    rootdirectory: {Storage}\n  delete:\n    enabled: true");
        sb.AppendLine($"http:\n  addr: 127.0.0.1:{Port}");
        if (tlsYaml is not null) sb.AppendLine(tlsYaml);
        if (authYaml is not null) sb.AppendLine(authYaml);
        File.WriteAllText(_config, sb.ToString());
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public string Log => (_proc?.Stderr ?? "") + (_proc?.Stdout ?? "");

    public async Task Start()
    {
        if (!File.Exists(Binary)) throw new InvalidOperationException("docker-registry is not installed (apt-get install docker-registry)");
        _proc = Proc.Start(Binary, ["serve", _config]);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (_proc.HasExited) throw new InvalidOperationException("docker-registry exited:\n" + Log);
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) { await Task.Delay(50); }
        }
        throw new InvalidOperationException("docker-registry did not listen within 20 s:\n" + Log);
    }

    /// <summary>Kills the registry (by its PID) and waits for it to be gone.</summary>
    public void Stop()
    {
        if (_proc is null) return;
        try { Process.GetProcessById(_proc.Pid).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        for (var i = 0; i < 200 && !_proc.HasExited; i++) Thread.Sleep(25);
        _proc.Dispose();
        _proc = null;
    }

    public void Dispose() => Stop();

    /// <summary>The file a blob is stored in (distribution's filesystem layout).</summary>
    public string BlobData(string digest)
    {
        var hex = digest[7..];
        return Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    /// <summary>How many blob GETs for <paramref name="digest"/> the access log shows.</summary>
    public int BlobGets(string digest) =>
        Log.Split('\n').Count(l => l.Contains("\"GET /v2/", StringComparison.Ordinal) && l.Contains("/blobs/" + digest, StringComparison.Ordinal));

    /// <summary>skopeo copy SRC → docker://HOST/NAME (no TLS verification: a test registry).</summary>
    public async Task Push(string source, string name, bool all = false, IEnumerable<string>? extra = null)
    {
        var r = await Proc.Run("skopeo", ["copy", "--quiet", .. (all ? new[] { "--all" } : []), "--dest-tls-verify=false", .. extra ?? [],
            source, $"docker://{Host}/{name}"], timeout: TimeSpan.FromSeconds(120));
        if (r.ExitCode != 0) throw new InvalidOperationException("skopeo copy failed:\n" + r + "\nregistry log:\n" + Log);
    }
}

/// <summary>
/// Writes OCI image layouts offline, blob by blob (layers from tars made here or by GNU tar), for
/// skopeo to push: several layers, whiteouts, hard links, a multi-platform index, zstd layers.
/// </summary>
public sealed class OciLayoutBuilder
{
    public string Dir { get; }
    private readonly JsonArray _index = [];

    public OciLayoutBuilder(string dir)
    {
        Dir = dir;
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    public sealed record Blob(string Digest, long Size, string MediaType)
    {
        public JsonObject Descriptor() => new() { ["mediaType"] = MediaType, ["digest"] = Digest, ["size"] = Size };
    }

    public Blob AddBlob(byte[] content, string mediaType)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));
        File.WriteAllBytes(Path.Combine(Dir, "blobs", "sha256", digest[7..]), content);
        return new Blob(digest, content.Length, mediaType);
    }

    /// <summary>A layer from an uncompressed tar: gzip ("gzip"), zstd (the zstd tool) or as is ("none"). Returns the blob and its DiffID.</summary>
    public async Task<(Blob Layer, string DiffId)> AddLayer(byte[] tar, string compression = "gzip")
    {
        var diffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(tar));
        byte[] content;
        string mediaType;
        switch (compression)
        {
            case "gzip":
                using (var ms = new MemoryStream())
                {
                    using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(tar);
                    content = ms.ToArray();
                }
                mediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
                break;
            case "zstd":
                var tmp = Path.Combine(Dir, "layer.tar");
                await File.WriteAllBytesAsync(tmp, tar);
                var r = await Proc.Run("zstd", ["-q", "-f", "--rm", tmp, "-o", tmp + ".zst"]);
                if (r.ExitCode != 0) throw new InvalidOperationException(r.ToString());
                content = await File.ReadAllBytesAsync(tmp + ".zst");
                File.Delete(tmp + ".zst");
                mediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
                break;
            default:
                content = tar;
                mediaType = "application/vnd.oci.image.layer.v1.tar";
                break;
        }
        return (AddBlob(content, mediaType), diffId);
    }

    /// <summary>An image manifest for these layers and a config; returns the manifest blob.</summary>
    public Blob AddImage(IReadOnlyList<(Blob Layer, string DiffId)> layers, JsonObject containerConfig, string architecture = "amd64", string os = "linux")
    {
        var config = new JsonObject
        {
            ["created"] = "2024-05-06T07:08:09Z",
            ["architecture"] = architecture,
            ["os"] = os,
            ["config"] = containerConfig,
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray([.. layers.Select(l => (JsonNode)l.DiffId!)]) },
        };
        var configBlob = AddBlob(Encoding.UTF8.GetBytes(config.ToJsonString()), "application/vnd.oci.image.config.v1+json");
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = configBlob.Descriptor(),
            ["layers"] = new JsonArray([.. layers.Select(l => (JsonNode)l.Layer.Descriptor())]),
        };
        return AddBlob(Encoding.UTF8.GetBytes(manifest.ToJsonString()), "application/vnd.oci.image.manifest.v1+json");
    }

    /// <summary>An image index of manifests with their platforms.</summary>
    public Blob AddIndex(params (Blob Manifest, string Os, string Architecture)[] manifests)
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray([.. manifests.Select(m =>
            {
                var d = m.Manifest.Descriptor();
                d["platform"] = new JsonObject { ["os"] = m.Os, ["architecture"] = m.Architecture };
                return (JsonNode)d;
            })]),
        };
        return AddBlob(Encoding.UTF8.GetBytes(index.ToJsonString()), "application/vnd.oci.image.index.v1+json");
    }

    /// <summary>Names a manifest or index in index.json (ref.name = TAG), so skopeo can copy oci:DIR:TAG.</summary>
    public string Tag(Blob top, string tag)
    {
        var d = top.Descriptor();
        d["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _index.Add((JsonNode)d);
        File.WriteAllText(Path.Combine(Dir, "index.json"), new JsonObject { ["schemaVersion"] = 2, ["manifests"] = _index.DeepClone() }.ToJsonString());
        return $"oci:{Dir}:{tag}";
    }

    /// <summary>A tar written entry by entry: (type, name, content or link target).</summary>
    public static byte[] Tar(params (TarEntryType Type, string Name, string? Data)[] entries)
    {
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (type, name, data) in entries)
            {
                var e = new PaxTarEntry(type, name) { Mode = type == TarEntryType.Directory ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100 };
                if (type is TarEntryType.HardLink or TarEntryType.SymbolicLink) e.LinkName = data!;
                else if (data is not null) e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(data));
                w.WriteEntry(e);
            }
        }
        return ms.ToArray();
    }
}
