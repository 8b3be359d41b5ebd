using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrateRun.Core;
using CrateRun.Core.Images;

namespace CrateRun.Linux.Images;

/// <summary>How to reach registries: TLS trust, plain HTTP, credentials.</summary>
public sealed class RegistryOptions
{
    /// <summary>Per-registry CA dirs (HOST[:PORT]/*.crt), as Docker's /etc/docker/certs.d; first existing one wins.</summary>
    public IReadOnlyList<string> CertDirs { get; init; } = ["/etc/craterun/certs.d", "/etc/containers/certs.d", "/etc/docker/certs.d"];

    /// <summary>Registries named with --insecure: TLS without verification, then plain HTTP.</summary>
    public bool Insecure { get; init; }

    /// <summary>Credentials for a registry host (from ~/.docker/config.json), or null for anonymous.</summary>
    public Func<string, RegistryCredentials?> Credentials { get; init; } = _ => null;

    /// <summary>Attempts for a request that fails with 429, 5xx or a broken connection.</summary>
    public int Attempts { get; init; } = 5;

    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>The token endpoint's answer (distribution spec token.md): token or access_token, expires_in.</summary>
public sealed class TokenResponse
{
    [JsonPropertyName("token")] public string? Token { get; set; }
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public int? ExpiresIn { get; set; }
}

[JsonSerializable(typeof(TokenResponse))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;

/// <summary>
/// A client of one registry (OCI distribution spec v2) on HttpClient/SocketsHttpHandler:
/// <list type="bullet">
/// <item>HTTPS with the system CAs plus HOST:PORT/*.crt of a certs.d dir; plain HTTP only for a
/// loopback registry that does not speak TLS, or one named with --insecure.</item>
/// <item>Auth as the registry asks in WWW-Authenticate: Basic with the stored credentials, or
/// Bearer: a token from the realm for the scope (anonymous or with the credentials), cached per scope.</item>
/// <item>Redirects followed by hand: the Authorization header goes only to the registry's own host.</item>
/// <item>429, 5xx and broken connections retried with exponential backoff (Retry-After honoured, capped).</item>
/// </list>
/// </summary>
public sealed class RegistryClient : IDisposable
{
    private const int MaxRedirects = 10;
    private const int MaxManifestBytes = 4 << 20;
    public static readonly string[] ManifestAccept = [MediaTypes.OciIndex, MediaTypes.OciManifest, MediaTypes.DockerManifestList, MediaTypes.DockerManifest];

    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly object _gate = new();
    private readonly Dictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private AuthChallenge? _challenge;
    private bool _pinged;
    private Uri _base;

    /// <summary>The host[:port] as references name it (docker.io is served by registry-1.docker.io).</summary>
    public string Registry { get; }

    public RegistryClient(string registry, RegistryOptions options)
    {
        Registry = registry;
        _options = options;
        var host = registry == ImageReference.DefaultDomain ? "registry-1.docker.io" : registry;
        _base = new Uri("https://" + host + "/");
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // followed by hand, to drop Authorization on another host
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 8,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = ValidateCertificate },
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("craterun", "1.0"));
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Whether a registry name is a loopback address (localhost, 127.0.0.0/8, ::1), where plain HTTP is allowed.</summary>
    public static bool IsLoopback(string registry)
    {
        var host = HostOf(registry);
        if (host == "localhost") return true;
        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    private static string HostOf(string registry)
    {
        if (registry.StartsWith('[')) return registry[..(registry.IndexOf(']') + 1)];
        var colon = registry.LastIndexOf(':');
        return colon < 0 ? registry : registry[..colon];
    }

    private bool ValidateCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (_options.Insecure) return true;
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        var cas = RegistryCas();
        if (cas.Count == 0) return false;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.CustomTrustStore.AddRange(cas);
        if (chain is not null)
            foreach (var e in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(e.Certificate);
        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private X509Certificate2Collection? _cas;

    /// <summary>The CA certificates of certs.d/HOST:PORT/*.crt (the first certs.d that has the registry's dir).</summary>
    private X509Certificate2Collection RegistryCas()
    {
        lock (_gate)
        {
            if (_cas is not null) return _cas;
            _cas = [];
            foreach (var root in _options.CertDirs)
            {
                var dir = Path.Combine(root, Registry);
                if (!Directory.Exists(dir)) continue;
                foreach (var crt in Directory.EnumerateFiles(dir, "*.crt").Order(StringComparer.Ordinal))
                    _cas.ImportFromPemFile(crt);
                break;
            }
            return _cas;
        }
    }

    // ---- ping and scheme ------------------------------------------------------------------

    /// <summary>
    /// GET /v2/ once: learns how the registry wants to be authenticated, and whether it speaks TLS.
    /// HTTPS first; plain HTTP only when TLS fails on a loopback registry or one named --insecure.
    /// </summary>
    public async Task PingAsync(CancellationToken ct)
    {
        if (_pinged) return;
        HttpResponseMessage response;
        try
        {
            response = await SendWithRetriesAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(_base, "v2/")), null, ct);
        }
        catch (HttpRequestException e) when (_base.Scheme == "https" && (IsLoopback(Registry) || _options.Insecure) && IsTlsFailure(e))
        {
            var plain = new Uri("http://" + _base.Authority + "/");
            try
            {
                response = await SendWithRetriesAsync(() => new HttpRequestMessage(HttpMethod.Get, new Uri(plain, "v2/")), null, ct);
            }
            catch (HttpRequestException)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
                throw;
            }
            // a TLS server answers plain HTTP with 400: then the TLS error is the one to report
            if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Unauthorized)
            {
                response.Dispose();
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
            }
            _base = plain;
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.Unauthorized) _challenge = ChallengeOf(response);
            else if (!response.IsSuccessStatusCode)
                throw new CrateRunException($"{Registry}: GET /v2/ answered {(int)response.StatusCode} {response.ReasonPhrase}: not a registry (distribution spec v2)?");
        }
        _pinged = true;
    }

    private static bool IsTlsFailure(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
            if (x is AuthenticationException || (x is HttpRequestException h && h.HttpRequestError == HttpRequestError.SecureConnectionError)) return true;
        return false;
    }

    private static AuthChallenge? ChallengeOf(HttpResponseMessage response)
    {
        foreach (var h in response.Headers.WwwAuthenticate)
        {
            var text = h.Parameter is null ? h.Scheme : h.Scheme + " " + h.Parameter;
            var challenges = AuthChallenge.Parse(text);
            var pick = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
                ?? challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
            if (pick is not null) return pick;
        }
        return null;
    }

    /// <summary>Checks that the stored or given credentials are accepted (for login): /v2/ with auth, or a token for no scope.</summary>
    public async Task CheckLoginAsync(CancellationToken ct)
    {
        await PingAsync(ct);
        if (_challenge is null) return; // the registry needs no auth at all
        using var r = await SendAsync(HttpMethod.Get, "v2/", scope: null, accept: null, range: null, ct);
        if (r.StatusCode == HttpStatusCode.Unauthorized) throw new CrateRunException($"{Registry}: login refused: wrong user name or password");
        if (!r.IsSuccessStatusCode) throw new CrateRunException($"{Registry}: GET /v2/ answered {(int)r.StatusCode} {r.ReasonPhrase}");
    }

    // ---- auth -----------------------------------------------------------------------------

    private async Task<AuthenticationHeaderValue?> AuthorizationAsync(string? scope, bool refresh, CancellationToken ct)
    {
        var challenge = _challenge;
        if (challenge is null) return null;
        var credentials = _options.Credentials(Registry);
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            return credentials is null ? null : new AuthenticationHeaderValue("Basic", credentials.BasicHeaderValue);
        var key = scope ?? "";
        lock (_gate)
        {
            if (!refresh && _tokens.TryGetValue(key, out var cached) && cached.Expires > DateTimeOffset.UtcNow)
                return new AuthenticationHeaderValue("Bearer", cached.Token);
        }
        var token = await FetchTokenAsync(challenge, scope, credentials, ct);
        lock (_gate) _tokens[key] = token;
        return new AuthenticationHeaderValue("Bearer", token.Token);
    }

    /// <summary>The token flow (distribution spec token.md): GET realm?service=S&amp;scope=repository:NAME:pull, Basic auth when we have credentials.</summary>
    private async Task<(string Token, DateTimeOffset Expires)> FetchTokenAsync(AuthChallenge challenge, string? scope, RegistryCredentials? credentials, CancellationToken ct)
    {
        if (challenge.Realm is not { } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
            throw new CrateRunException($"{Registry}: the registry asks for a bearer token but gives no usable realm ('{challenge.Realm}')");
        if (realmUri.Scheme == "http" && !IsLoopback(realmUri.Authority) && !_options.Insecure)
            throw new CrateRunException($"{Registry}: token realm {realm} is plain HTTP; refusing to send credentials there (use --insecure)");
        var query = new List<string>();
        if (challenge.Service is { } service) query.Add("service=" + Uri.EscapeDataString(service));
        if (scope is not null) query.Add("scope=" + Uri.EscapeDataString(scope));
        var builder = new UriBuilder(realmUri);
        var existing = builder.Query.TrimStart('?');
        builder.Query = string.Join('&', (existing.Length > 0 ? [existing] : Array.Empty<string>()).Concat(query));
        using var response = await SendWithRetriesAsync(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
            if (credentials is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credentials.BasicHeaderValue);
            return request;
        }, realmUri, ct);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new CrateRunException($"{Registry}: the token service {realmUri.Authority} refused {(credentials is null ? "anonymous access" : "the credentials of " + credentials.Username)} ({(int)response.StatusCode}){(credentials is null ? "; craterun login " + Registry + "?" : "")}");
        if (!response.IsSuccessStatusCode)
            throw new CrateRunException($"{Registry}: the token service answered {(int)response.StatusCode} {response.ReasonPhrase}");
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        var parsed = ImageDocuments.Read(body, RegistryJsonContext.Default.TokenResponse, $"{Registry}: token response");
        var token = parsed.Token ?? parsed.AccessToken;
        if (string.IsNullOrEmpty(token)) throw new CrateRunException($"{Registry}: the token service answered without a token");
        // the spec's default lifetime is 60 s; keep a margin so a token does not expire in flight
        var lifetime = Math.Max(parsed.ExpiresIn ?? 60, 60) - 10;
        return (token, DateTimeOffset.UtcNow.AddSeconds(lifetime));
    }

    private static string PullScope(string repository) => $"repository:{repository}:pull";

    // ---- requests -------------------------------------------------------------------------

    /// <summary>
    /// One registry request with auth: on 401 the challenge is re-read (it may name another realm or scope)
    /// and the request is sent once more with a fresh token.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? scope, string[]? accept, long? range, CancellationToken ct)
    {
        await PingAsync(ct);
        var uri = new Uri(_base, path);
        for (var attempt = 0; ; attempt++)
        {
            var authorization = await AuthorizationAsync(scope, refresh: attempt > 0, ct);
            var response = await SendWithRetriesAsync(() =>
            {
                var request = new HttpRequestMessage(method, uri);
                if (authorization is not null) request.Headers.Authorization = authorization;
                foreach (var a in accept ?? []) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
                if (range is > 0) request.Headers.Range = new RangeHeaderValue(range, null);
                return request;
            }, _base, ct);
            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && ChallengeOf(response) is { } fresh)
            {
                _challenge = fresh;
                response.Dispose();
                continue;
            }
            return response;
        }
    }

    /// <summary>
    /// Sends a request made by <paramref name="make"/>, following redirects by hand and retrying 429/5xx
    /// and broken connections. The Authorization header is sent only to <paramref name="authOrigin"/>'s
    /// origin (scheme, host and port): a redirect to a blob store elsewhere goes there without it.
    /// </summary>
    private async Task<HttpResponseMessage> SendWithRetriesAsync(Func<HttpRequestMessage> make, Uri? authOrigin, CancellationToken ct)
    {
        var delay = _options.FirstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage? response = null;
            try
            {
                var request = make();
                for (var hop = 0; ; hop++)
                {
                    response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                    if ((int)response.StatusCode is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is null) break;
                    if (hop == MaxRedirects) throw new CrateRunException($"{request.RequestUri}: more than {MaxRedirects} redirects");
                    var next = new Uri(request.RequestUri!, response.Headers.Location);
                    if (next.Scheme != "https" && next.Scheme != request.RequestUri!.Scheme)
                        throw new CrateRunException($"{request.RequestUri}: redirected from HTTPS to {next.Scheme}: refused");
                    var follow = new HttpRequestMessage(response.StatusCode == HttpStatusCode.SeeOther ? HttpMethod.Get : request.Method, next);
                    foreach (var h in request.Headers)
                        if (h.Key != "Authorization") follow.Headers.TryAddWithoutValidation(h.Key, h.Value);
                    if (request.Headers.Authorization is { } auth && authOrigin is not null && SameOrigin(next, authOrigin)) follow.Headers.Authorization = auth;
                    response.Dispose();
                    request.Dispose();
                    request = follow;
                }
                if ((int)response.StatusCode is 429 or >= 500 && attempt < _options.Attempts)
                {
                    var wait = RetryAfter(response) ?? delay;
                    response.Dispose();
                    await Task.Delay(wait, ct);
                    delay *= 2;
                    continue;
                }
                return response;
            }
            catch (HttpRequestException e) when (attempt < _options.Attempts && !IsTlsFailure(e))
            {
                response?.Dispose();
                await Task.Delay(delay, ct);
                delay *= 2;
            }
            catch (HttpRequestException e)
            {
                response?.Dispose();
                throw new HttpRequestException($"{Registry}: {Describe(e)}", e, e.StatusCode) { };
            }
        }
    }

    /// <summary>RFC 6454 origins: the same scheme, host (case-insensitive, as written: localhost is not 127.0.0.1) and port.</summary>
    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase);

    private static TimeSpan? RetryAfter(HttpResponseMessage r)
    {
        var ra = r.Headers.RetryAfter;
        var wait = ra?.Delta ?? (ra?.Date is { } d ? d - DateTimeOffset.UtcNow : null);
        if (wait is null) return null;
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > TimeSpan.FromSeconds(30) ? TimeSpan.FromSeconds(30) : wait;
    }

    /// <summary>A one-line reason for a failed connection (refused, TLS, reset).</summary>
    public static string Describe(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException se) return se.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused" : se.Message;
            if (x is AuthenticationException ae) return "TLS: " + (ae.InnerException?.Message ?? ae.Message);
        }
        return e.InnerException?.Message ?? e.Message;
    }

    private CrateRunException Failure(string what, HttpResponseMessage r) => r.StatusCode switch
    {
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new CrateRunException($"{what}: access denied ({(int)r.StatusCode}); craterun login?"),
        HttpStatusCode.NotFound => new CrateRunException($"{what}: not found"),
        (HttpStatusCode)429 or >= HttpStatusCode.InternalServerError =>
            new CrateRunException($"{what}: the registry answered {(int)r.StatusCode} {r.ReasonPhrase} {_options.Attempts} times; giving up"),
        _ => new CrateRunException($"{what}: the registry answered {(int)r.StatusCode} {r.ReasonPhrase}"),
    };

    // ---- manifests and blobs --------------------------------------------------------------

    /// <summary>A manifest or index as fetched: its bytes, its media type and its digest (verified).</summary>
    public sealed record FetchedManifest(byte[] Bytes, string? MediaType, string Digest);

    /// <summary>
    /// GET /v2/NAME/manifests/REF. By digest: the bytes must hash to it. By tag: the bytes' digest must
    /// equal the Docker-Content-Digest header when the registry sends one.
    /// </summary>
    public async Task<FetchedManifest> GetManifestAsync(string repository, string tagOrDigest, CancellationToken ct)
    {
        var what = $"{Registry}/{repository}:{tagOrDigest}";
        using var r = await SendAsync(HttpMethod.Get, $"v2/{repository}/manifests/{tagOrDigest}", PullScope(repository), ManifestAccept, null, ct);
        if (r.StatusCode == HttpStatusCode.NotFound) throw new CrateRunException($"{what}: manifest unknown (no such image or tag)");
        if (!r.IsSuccessStatusCode) throw Failure($"manifest {what}", r);
        if (r.Content.Headers.ContentLength > MaxManifestBytes) throw new CrateRunException($"{what}: manifest larger than {MaxManifestBytes} bytes");
        var bytes = await r.Content.ReadAsByteArrayAsync(ct);
        if (bytes.Length > MaxManifestBytes) throw new CrateRunException($"{what}: manifest larger than {MaxManifestBytes} bytes");
        var digest = ImageDocuments.Sha256(bytes);
        if (tagOrDigest.Contains(':') && tagOrDigest != digest)
            throw new CrateRunException($"{what}: manifest content has digest {digest}, not the one asked for");
        if (r.Headers.TryGetValues("Docker-Content-Digest", out var header) && header.FirstOrDefault() is { } sent
            && sent.StartsWith("sha256:", StringComparison.Ordinal) && sent != digest)
            throw new CrateRunException($"{what}: manifest content has digest {digest}, the registry says {sent}");
        return new FetchedManifest(bytes, r.Content.Headers.ContentType?.MediaType, digest);
    }

    /// <summary>GET a small blob (a config) whole, verified against its digest.</summary>
    public async Task<byte[]> GetSmallBlobAsync(string repository, Descriptor d, CancellationToken ct)
    {
        if (d.Size > MaxManifestBytes) throw new CrateRunException($"blob {d.Digest}: {d.Size} bytes is too large for a config");
        using var stream = await OpenBlobAsync(repository, d.Digest, 0, ct);
        using var ms = new MemoryStream();
        await stream.CopyToAsync(ms, ct);
        var bytes = ms.ToArray();
        var digest = ImageDocuments.Sha256(bytes);
        if (digest != d.Digest) throw new CrateRunException($"blob {d.Digest}: content has digest {digest}");
        return bytes;
    }

    /// <summary>GET /v2/NAME/blobs/DIGEST from <paramref name="offset"/> (Range). A registry that ignores the range is an error then.</summary>
    public async Task<Stream> OpenBlobAsync(string repository, string digest, long offset, CancellationToken ct)
    {
        var r = await SendAsync(HttpMethod.Get, $"v2/{repository}/blobs/{digest}", PullScope(repository), null, offset, ct);
        if (!r.IsSuccessStatusCode)
        {
            using (r) throw Failure($"blob {digest}", r);
        }
        if (offset > 0 && r.StatusCode != HttpStatusCode.PartialContent)
        {
            r.Dispose();
            throw new CrateRunException($"blob {digest}: the registry does not resume downloads (no 206 to a Range request)");
        }
        return new ResponseStream(r, await r.Content.ReadAsStreamAsync(ct));
    }

    /// <summary>A response body that disposes its response with it.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(buffer, ct);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
