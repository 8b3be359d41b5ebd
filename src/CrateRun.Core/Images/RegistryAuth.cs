using System.Text;
using System.Text.Json.Nodes;

namespace CrateRun.Core.Images;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header (RFC 7235): a scheme (Bearer, Basic) and its
/// parameters (realm, service, scope). The distribution spec's token flow starts from a Bearer one.
/// </summary>
public sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Realm => Parameters.GetValueOrDefault("realm");
    public string? Service => Parameters.GetValueOrDefault("service");

    /// <summary>
    /// Parses a header value: <c>Bearer realm="https://auth.docker.io/token",service="registry.docker.io"</c>,
    /// <c>Basic realm="x"</c>. Quoted values may hold commas and backslash escapes; scheme names are case-insensitive.
    /// </summary>
    public static List<AuthChallenge> Parse(string header)
    {
        var result = new List<AuthChallenge>();
        var i = 0;
        string? scheme = null;
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (i < header.Length)
        {
            SkipSpaceAndCommas(header, ref i);
            if (i >= header.Length) break;
            var tokenStart = i;
            while (i < header.Length && header[i] is not (' ' or '=' or ',')) i++;
            var token = header[tokenStart..i];
            var j = i;
            while (j < header.Length && header[j] == ' ') j++;
            if (j < header.Length && header[j] == '=' && scheme is not null)
            {
                i = j + 1;
                while (i < header.Length && header[i] == ' ') i++;
                parameters[token] = ReadValue(header, ref i);
            }
            else
            {
                if (scheme is not null) result.Add(new AuthChallenge(scheme, parameters));
                scheme = token;
                parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            }
        }
        if (scheme is not null) result.Add(new AuthChallenge(scheme, parameters));
        return result;
    }

    private static void SkipSpaceAndCommas(string s, ref int i)
    {
        while (i < s.Length && s[i] is ' ' or ',' or '\t') i++;
    }

    private static string ReadValue(string s, ref int i)
    {
        if (i < s.Length && s[i] == '"')
        {
            var sb = new StringBuilder();
            i++;
            while (i < s.Length && s[i] != '"')
            {
                if (s[i] == '\\' && i + 1 < s.Length) i++;
                sb.Append(s[i++]);
            }
            i++; // closing quote
            return sb.ToString();
        }
        var start = i;
        while (i < s.Length && s[i] is not (',' or ' ')) i++;
        return s[start..i];
    }
}

/// <summary>A user name and password (or identity token) for one registry.</summary>
public sealed record RegistryCredentials(string Username, string Password)
{
    public string BasicHeaderValue => Convert.ToBase64String(Encoding.UTF8.GetBytes(Username + ":" + Password));
}

/// <summary>
/// The <c>auths</c> section of Docker's <c>~/.docker/config.json</c>, as <c>docker login</c> writes it:
/// <c>{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}</c>; Docker Hub's key is
/// <c>https://index.docker.io/v1/</c>. Every other key of the file is kept as it is.
/// </summary>
public static class DockerConfigAuths
{
    public const string DockerHubKey = "https://index.docker.io/v1/";

    /// <summary>The key a registry's entry has in <c>auths</c> (docker.io → Docker Hub's legacy URL).</summary>
    public static string KeyFor(string registry) => registry is ImageReference.DefaultDomain or "index.docker.io" or "registry-1.docker.io" ? DockerHubKey : registry;

    /// <summary>The host[:port] part of an auths key (keys may be URLs: https://host/v1/).</summary>
    private static string HostOf(string key)
    {
        var k = key;
        if (k.StartsWith("https://", StringComparison.Ordinal)) k = k[8..];
        else if (k.StartsWith("http://", StringComparison.Ordinal)) k = k[7..];
        var slash = k.IndexOf('/');
        return slash < 0 ? k : k[..slash];
    }

    /// <summary>The credentials for <paramref name="registry"/> in a config.json's text, or null.</summary>
    public static RegistryCredentials? Find(string? configJson, string registry, string what)
    {
        if (string.IsNullOrWhiteSpace(configJson)) return null;
        var auths = ParseObject(configJson, what)["auths"] as JsonObject;
        if (auths is null) return null;
        var key = KeyFor(registry);
        var entry = auths[key] as JsonObject
            ?? auths.FirstOrDefault(kv => HostOf(kv.Key) == HostOf(key) || KeyFor(HostOf(kv.Key)) == key).Value as JsonObject;
        if (entry is null) return null;
        if (entry["auth"]?.GetValue<string>() is { Length: > 0 } auth)
        {
            string decoded;
            try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth)); }
            catch (FormatException) { throw new CrateRunException($"{what}: the auth of '{key}' is not base64"); }
            var colon = decoded.IndexOf(':');
            if (colon < 0) throw new CrateRunException($"{what}: the auth of '{key}' is not base64 of user:password");
            return new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
        }
        if (entry["username"]?.GetValue<string>() is { } user && entry["password"]?.GetValue<string>() is { } password)
            return new RegistryCredentials(user, password);
        return null;
    }

    /// <summary>The config.json text with <paramref name="registry"/>'s credentials set (or removed when null). Other content is kept.</summary>
    public static string With(string? configJson, string registry, RegistryCredentials? credentials, string what, out bool changed)
    {
        var root = string.IsNullOrWhiteSpace(configJson) ? new JsonObject() : ParseObject(configJson, what);
        if (root["auths"] is not JsonObject auths)
        {
            auths = new JsonObject();
            root["auths"] = auths;
        }
        var key = KeyFor(registry);
        changed = false;
        if (credentials is null)
        {
            foreach (var k in auths.Select(kv => kv.Key).Where(k => k == key || HostOf(k) == HostOf(key)).ToList())
                changed |= auths.Remove(k);
        }
        else
        {
            auths[key] = new JsonObject { ["auth"] = credentials.BasicHeaderValue };
            changed = true;
        }
        return root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject ParseObject(string json, string what)
    {
        try { return JsonNode.Parse(json) as JsonObject ?? throw new CrateRunException($"{what}: not a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw new CrateRunException($"{what}: invalid JSON: {e.Message}"); }
    }
}

/// <summary>A platform as --platform takes it: os/arch[/variant] (linux/amd64, linux/arm64/v8).</summary>
public sealed record PlatformSpec(string Os, string Architecture, string? Variant)
{
    public static readonly PlatformSpec Default = new("linux", "amd64", null);

    public static PlatformSpec Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return Default;
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
            throw new UsageException($"invalid --platform '{text}': expected os/arch[/variant], e.g. linux/amd64");
        return new PlatformSpec(parts[0], parts[1], parts.Length == 3 ? parts[2] : null);
    }

    public override string ToString() => Os + "/" + Architecture + (Variant is null ? "" : "/" + Variant);
}
