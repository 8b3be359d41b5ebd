using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a registry, to make faults: it can slow the registry's
/// answers down (bytes per second) and cut the first connections that carry more than N bytes.
/// It keeps what clients sent (HTTP request heads, plain text) for assertions.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly StringBuilder _requests = new();
    private long _relayed;
    private int _cutsLeft;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Host => $"127.0.0.1:{Port}";
    public long BytesPerSecond { get; set; }
    public long CutAfter { get; set; } = long.MaxValue;
    public long Relayed => Interlocked.Read(ref _relayed);
    public string Requests { get { lock (_requests) return _requests.ToString(); } }
    public int Cuts { get; private set; }

    public FaultProxy(int targetPort, int cuts = 0)
    {
        _target = targetPort;
        _cutsLeft = cuts;
        _listener.Start();
        _ = AcceptLoop();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        using var _ = client;
        using var upstream = new TcpClient();
        try { await upstream.ConnectAsync(IPAddress.Loopback, _target); }
        catch (SocketException) { return; } // the registry is gone: the client sees its connection closed
        var up = upstream.GetStream();
        var down = client.GetStream();
        var toServer = Task.Run(async () =>
        {
            var buf = new byte[16384];
            int n;
            try
            {
                while ((n = await down.ReadAsync(buf)) > 0)
                {
                    lock (_requests) _requests.Append(Encoding.Latin1.GetString(buf, 0, n));
                    await up.WriteAsync(buf.AsMemory(0, n));
                }
            }
            catch (Exception) { }
            try { upstream.Client.Shutdown(SocketShutdown.Send); } catch (Exception) { }
        });
        var buffer = new byte[16384];
        long sent = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            int n;
            while ((n = await up.ReadAsync(buffer)) > 0)
            {
                if (sent + n > CutAfter && Interlocked.Decrement(ref _cutsLeft) >= 0)
                {
                    await down.WriteAsync(buffer.AsMemory(0, (int)Math.Max(0, CutAfter - sent)));
                    Cuts++;
                    client.Client.LingerState = new LingerOption(true, 0);
                    return; // a cut in the middle of a body
                }
                await down.WriteAsync(buffer.AsMemory(0, n));
                sent += n;
                Interlocked.Add(ref _relayed, n);
                if (BytesPerSecond > 0)
                {
                    var due = TimeSpan.FromSeconds((double)sent / BytesPerSecond) - clock.Elapsed;
                    if (due > TimeSpan.Zero) await Task.Delay(due);
                }
            }
        }
        catch (Exception) { }
        await Task.WhenAny(toServer, Task.Delay(100));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}

/// <summary>
/// A token service for the registry's <c>auth: token</c> (distribution's token.md), in the test:
/// GET /token?service=S&amp;scope=repository:NAME:ACTIONS answers {"token": JWT} signed RS256 with
/// a key made here, its self-signed certificate in the JWT's x5c header and in the registry's
/// rootcertbundle. With the right Basic credentials it grants what is asked; anonymous gets pull only.
/// </summary>
public sealed class TokenServer : IDisposable
{
    public const string Service = "craterun-test-registry";
    public const string Issuer = "craterun-test-issuer";
    private readonly HttpListener _listener = new();
    private readonly RSA _key = RSA.Create(2048);
    private readonly X509Certificate2 _cert;
    private readonly string _user, _password;
    private readonly List<string> _requests = [];

    public int Port { get; }
    public string Realm => $"http://127.0.0.1:{Port}/token";
    public IReadOnlyList<string> Requests { get { lock (_requests) return [.. _requests]; } }

    public TokenServer(string certPath, string user, string password)
    {
        (_user, _password) = (user, password);
        var request = new CertificateRequest("CN=craterun test token signer", _key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        _cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(certPath, _cert.ExportCertificatePem() + "\n");
        Port = LocalRegistry.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Loop();
    }

    public string AuthYaml(string certPath) =>
        $"auth:\n  token:\n    realm: {Realm}\n    service: {Service}\n    issuer: {Issuer}\n    rootcertbundle: {certPath}";

    private async Task Loop()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            try { Answer(ctx); }
            catch (Exception) { ctx.Response.StatusCode = 500; }
            ctx.Response.Close();
        }
    }

    private void Answer(HttpListenerContext ctx)
    {
        var scope = ctx.Request.QueryString["scope"];
        var service = ctx.Request.QueryString["service"];
        var authorized = false;
        if (ctx.Request.Headers["Authorization"] is { } auth && auth.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..]));
            if (pair != _user + ":" + _password)
            {
                lock (_requests) _requests.Add($"refused {scope}");
                ctx.Response.StatusCode = 401;
                return;
            }
            authorized = true;
        }
        lock (_requests) _requests.Add($"{(authorized ? _user : "anonymous")} {scope}");
        if (service != Service)
        {
            ctx.Response.StatusCode = 400;
            return;
        }
        var access = new JsonArray();
        if (scope is not null)
        {
            var parts = scope.Split(':');
            var actions = parts[2].Split(',').Where(a => authorized || a == "pull").ToArray();
            access.Add((JsonNode)new JsonObject
            {
                ["type"] = parts[0], ["name"] = parts[1], ["actions"] = new JsonArray([.. actions.Select(a => (JsonNode)a!)]),
            });
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["x5c"] = new JsonArray((JsonNode)Convert.ToBase64String(_cert.RawData)) };
        var claims = new JsonObject
        {
            ["iss"] = Issuer, ["sub"] = authorized ? _user : "", ["aud"] = Service, ["exp"] = now + 300, ["nbf"] = now - 10, ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"), ["access"] = access,
        };
        var signingInput = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = signingInput + "." + B64(signature), ["expires_in"] = 300 }.ToJsonString());
        ctx.Response.ContentType = "application/json";
        ctx.Response.OutputStream.Write(body);
    }

    private static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _key.Dispose();
        _cert.Dispose();
    }
}
