using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>
/// A registry written for fault tests (distribution spec v2, read side only), on 127.0.0.1: it
/// serves an OCI layout's manifests (by tag from index.json's ref.name, or by digest) and blobs
/// (with Range: bytes=N-), and lets a test decide, request by request, to answer otherwise: a
/// status with Retry-After, a redirect, a body cut after N bytes, flipped bytes, a slow body.
/// A second listener ("the blob store", another port: another origin) serves /blobstore/DIGEST
/// without auth, as a CDN behind a registry's redirect would. Every request's head is recorded
/// (which listener, Host, headers), and the body bytes served per blob are counted.
/// Plain HTTP, one request per connection (Connection: close).
/// </summary>
public sealed class FaultRegistry : IDisposable
{
    /// <summary>A request as received.</summary>
    public sealed record Seen(int Port, string Method, string Path, IReadOnlyDictionary<string, string> Headers, DateTime At)
    {
        public string? Header(string name) => Headers.GetValueOrDefault(name.ToLowerInvariant());
    }

    /// <summary>How to answer a request instead of serving it normally (null fields: as normal).</summary>
    public sealed record Fault
    {
        public int? Status { get; init; }
        public string? Location { get; init; }
        public int? RetryAfterSeconds { get; init; }
        /// <summary>Send the head (with the full Content-Length) and this many body bytes, then reset the connection.</summary>
        public long? CutAfter { get; init; }
        /// <summary>Flip the bits of the body bytes in [CorruptFrom, CorruptTo) of the blob.</summary>
        public (long From, long To)? Corrupt { get; init; }
    }

    private readonly string _layout;
    private readonly TcpListener _registry;
    private readonly TcpListener _blobStore;
    private readonly ConcurrentQueue<Seen> _seen = new();
    private readonly ConcurrentDictionary<string, long> _served = new();
    private readonly ConcurrentDictionary<string, int> _count = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _down;

    public int Port { get; }
    public int BlobStorePort { get; }
    public string Host => $"127.0.0.1:{Port}";

    /// <summary>Basic credentials the /v2/ endpoints require (null: anonymous).</summary>
    public (string User, string Password)? Basic { get; init; }

    /// <summary>Body bytes per second for blobs (0: as fast as it goes).</summary>
    public long BytesPerSecond { get; set; }

    /// <summary>Decides per request: the request and how many times its path was asked before (0 the first time).</summary>
    public Func<Seen, int, Fault?>? Faults { get; set; }

    public FaultRegistry(string layoutDir)
    {
        _layout = layoutDir;
        _registry = new TcpListener(IPAddress.Loopback, 0);
        _registry.Start();
        Port = ((IPEndPoint)_registry.LocalEndpoint).Port;
        _blobStore = new TcpListener(IPAddress.Loopback, 0);
        _blobStore.Start();
        BlobStorePort = ((IPEndPoint)_blobStore.LocalEndpoint).Port;
        _ = AcceptLoop(_registry);
        _ = AcceptLoop(_blobStore);
    }

    public IReadOnlyList<Seen> Requests => [.. _seen];

    /// <summary>Blob body bytes sent (all listeners, all requests) for a digest.</summary>
    public long Served(string digest) => _served.GetValueOrDefault(digest);

    /// <summary>"Stops" the registry: every connection from now on is closed at once, as a registry that went away (until <see cref="Resume"/>).</summary>
    public void GoDown() => _down = true;

    public void Resume() => _down = false;

    public string DockerConfigJson() =>
        new JsonObject
        {
            ["auths"] = new JsonObject
            {
                [Host] = new JsonObject { ["auth"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Basic!.Value.User}:{Basic.Value.Password}")) },
            },
        }.ToJsonString();

    private async Task AcceptLoop(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(client, ((IPEndPoint)listener.LocalEndpoint).Port));
        }
    }

    private async Task Serve(TcpClient client, int port)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            if (_down)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                return;
            }
            var head = await ReadHead(stream);
            if (head is null) return; // a TLS hello (the client tries HTTPS first) or a closed connection
            var lines = head.Split("\r\n");
            var first = lines[0].Split(' ');
            var headers = new Dictionary<string, string>();
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
            }
            var seen = new Seen(port, first[0], first[1], headers, DateTime.UtcNow);
            _seen.Enqueue(seen);
            var asked = _count.AddOrUpdate($"{port} {seen.Path}", 0, (_, n) => n + 1);
            await Answer(client, stream, seen, Faults?.Invoke(seen, asked));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    private static async Task<string?> ReadHead(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!(buffer.Count >= 4 && buffer[^4] == '\r' && buffer[^3] == '\n' && buffer[^2] == '\r' && buffer[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) return null;
            if (buffer.Count == 0 && one[0] == 0x16) return null; // TLS: closing makes the client fall back to plain HTTP on loopback
            buffer.Add(one[0]);
            if (buffer.Count > 65536) return null;
        }
        return Encoding.Latin1.GetString([.. buffer]);
    }

    private async Task Answer(TcpClient client, NetworkStream stream, Seen request, Fault? fault)
    {
        if (fault?.Status is { } status)
        {
            var extra = new StringBuilder();
            if (fault.Location is { } location) extra.Append($"Location: {location}\r\n");
            if (fault.RetryAfterSeconds is { } wait) extra.Append($"Retry-After: {wait}\r\n");
            await WriteHead(stream, status, "0", extra.ToString());
            return;
        }
        var path = request.Path;
        if (path.StartsWith("/blobstore/", StringComparison.Ordinal))
        {
            await SendBlob(client, stream, request, path["/blobstore/".Length..], fault);
            return;
        }
        if (request.Port != Port || !path.StartsWith("/v2/", StringComparison.Ordinal))
        {
            await WriteHead(stream, 404, "0");
            return;
        }
        if (Basic is { } basic && request.Header("Authorization") != "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{basic.User}:{basic.Password}")))
        {
            await WriteHead(stream, 401, "0", "WWW-Authenticate: Basic realm=\"fault registry\"\r\n");
            return;
        }
        if (path == "/v2/")
        {
            await WriteHead(stream, 200, "0");
            return;
        }
        var manifests = path.IndexOf("/manifests/", StringComparison.Ordinal);
        if (manifests > 0)
        {
            var reference = path[(manifests + "/manifests/".Length)..];
            var digest = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference : TagDigest(reference);
            var file = digest is null ? null : BlobFile(digest);
            if (file is null)
            {
                await WriteHead(stream, 404, "0");
                return;
            }
            var bytes = await File.ReadAllBytesAsync(file);
            var mediaType = JsonNode.Parse(bytes)?["mediaType"]?.GetValue<string>() ?? "application/vnd.oci.image.manifest.v1+json";
            await WriteHead(stream, 200, bytes.Length.ToString(), $"Content-Type: {mediaType}\r\nDocker-Content-Digest: {digest}\r\n");
            if (request.Method == "GET") await stream.WriteAsync(bytes);
            return;
        }
        var blobs = path.IndexOf("/blobs/", StringComparison.Ordinal);
        if (blobs > 0)
        {
            await SendBlob(client, stream, request, path[(blobs + "/blobs/".Length)..], fault);
            return;
        }
        await WriteHead(stream, 404, "0");
    }

    private async Task SendBlob(TcpClient client, NetworkStream stream, Seen request, string digest, Fault? fault)
    {
        var file = BlobFile(digest);
        if (file is null)
        {
            await WriteHead(stream, 404, "0");
            return;
        }
        var bytes = await File.ReadAllBytesAsync(file);
        long from = 0;
        if (request.Header("Range") is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
            from = long.Parse(range["bytes=".Length..^1]);
        var length = bytes.Length - from;
        if (from > 0)
            await WriteHead(stream, 206, length.ToString(), $"Content-Range: bytes {from}-{bytes.Length - 1}/{bytes.Length}\r\nContent-Type: application/octet-stream\r\n");
        else
            await WriteHead(stream, 200, length.ToString(), "Content-Type: application/octet-stream\r\n");
        if (request.Method != "GET") return;
        var body = bytes.AsMemory((int)from);
        if (fault?.Corrupt is { } corrupt)
        {
            var copy = body.ToArray();
            for (var i = Math.Max(corrupt.From - from, 0); i < Math.Min(corrupt.To - from, copy.Length); i++) copy[i] ^= 0x5a;
            body = copy;
        }
        var limit = fault?.CutAfter is { } cut ? Math.Min(cut, body.Length) : body.Length;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long sent = 0;
        while (sent < limit)
        {
            var chunk = (int)Math.Min(65536, limit - sent);
            await stream.WriteAsync(body.Slice((int)sent, chunk));
            sent += chunk;
            _served.AddOrUpdate(digest, chunk, (_, n) => n + chunk);
            if (_down) break; // gone mid-body
            if (BytesPerSecond > 0)
            {
                var due = TimeSpan.FromSeconds((double)sent / BytesPerSecond) - clock.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due);
            }
        }
        // a cut: the connection ends before Content-Length (FIN after what was sent, so the client gets
        // every byte counted here; a reset could drop what sits unread in its receive buffer)
        if (sent < body.Length) client.Client.Shutdown(SocketShutdown.Send);
    }

    private static async Task WriteHead(NetworkStream stream, int status, string contentLength, string extra = "")
    {
        var reason = status switch
        {
            200 => "OK",
            206 => "Partial Content",
            307 => "Temporary Redirect",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            _ => "Status",
        };
        await stream.WriteAsync(Encoding.Latin1.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Length: {contentLength}\r\nConnection: close\r\n{extra}\r\n"));
    }

    private string? BlobFile(string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || digest[7..].Any(c => !char.IsAsciiHexDigitLower(c))) return null;
        var file = Path.Combine(_layout, "blobs", "sha256", digest[7..]);
        return File.Exists(file) ? file : null;
    }

    private string? TagDigest(string tag)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_layout, "index.json")))!;
        foreach (var m in index["manifests"]!.AsArray())
            if (m!["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag) return m["digest"]!.GetValue<string>();
        return null;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _registry.Stop();
        _blobStore.Stop();
    }
}
