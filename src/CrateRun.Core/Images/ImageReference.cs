using System.Text.RegularExpressions;

namespace CrateRun.Core.Images;

/// <summary>
/// An image reference as Docker parses and normalises it (distribution/reference,
/// ParseNormalizedNamed): <c>busybox</c> is <c>docker.io/library/busybox:latest</c>,
/// <c>localhost:5000/x</c> keeps its registry, <c>host:port/a/b:tag@sha256:...</c> has both.
/// </summary>
public sealed partial record ImageReference(string Domain, string Path, string? Tag, string? Digest)
{
    public const string DefaultDomain = "docker.io";
    public const string DefaultTag = "latest";
    private const string LegacyDefaultDomain = "index.docker.io";
    private const int NameTotalLengthMax = 255;

    /// <summary>domain/path, e.g. docker.io/library/busybox.</summary>
    public string Name => Domain + "/" + Path;

    /// <summary>The full normalised form: name[:tag][@digest].</summary>
    public override string ToString() => Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The short name Docker prints: docker.io/ and library/ left out (busybox, ghcr.io/o/r).</summary>
    public string FamiliarName => Domain == DefaultDomain
        ? (Path.StartsWith("library/", StringComparison.Ordinal) && Path.IndexOf('/', 8) < 0 ? Path[8..] : Path)
        : Name;

    /// <summary>The familiar name with its tag (busybox:latest), or with its digest when it has no tag.</summary>
    public string FamiliarString => FamiliarName + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    // The grammar of distribution/reference (regexp.go), written out here:
    //   alphanumeric      [a-z0-9]+
    //   separator         [_.]|__|[-]+
    //   path-component    alphanumeric (separator alphanumeric)*
    //   domain-component  [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    //   domain-name       domain-component ('.' domain-component)*
    //   host              domain-name | '[' IPv6 ']'
    //   domain            host (':' port-number)?
    //   tag               [\w][\w.-]{0,127}
    //   digest            algorithm ':' hex (algorithm: [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*, 32+ hex)
    private const string PathComponent = "[a-z0-9]+(?:(?:[_.]|__|[-]+)[a-z0-9]+)*";
    private const string DomainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    private const string Domain_ = "(?:" + DomainComponent + "(?:\\." + DomainComponent + ")*|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?";
    private const string Tag_ = "[\\w][\\w.-]{0,127}";
    private const string Digest_ = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    private const string Reference = "^((?:" + Domain_ + "/)?" + PathComponent + "(?:/" + PathComponent + ")*)(?::(" + Tag_ + "))?(?:@(" + Digest_ + "))?$";

    [GeneratedRegex(Reference, RegexOptions.CultureInvariant)]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex("^" + Domain_ + "$", RegexOptions.CultureInvariant)]
    private static partial Regex DomainRegex();

    [GeneratedRegex("^[a-f0-9]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex FullIdRegex();

    /// <summary>Parses and normalises a reference as `docker pull` / `docker run` take it. No tag and no digest: :latest.</summary>
    public static ImageReference Parse(string text) => ParseNormalized(text).WithDefaultTag();

    /// <summary>Whether <paramref name="text"/> is a reference at all (no exception).</summary>
    public static bool TryParse(string text, out ImageReference? reference)
    {
        try { reference = Parse(text); return true; }
        catch (UsageException) { reference = null; return false; }
    }

    /// <summary>Parses without adding a default tag (for `images busybox`, `rmi name@digest`).</summary>
    public static ImageReference ParseNormalized(string text)
    {
        if (string.IsNullOrEmpty(text)) throw Invalid(text, "empty reference");
        if (FullIdRegex().IsMatch(text))
            throw new UsageException($"invalid reference '{text}': a 64-character hexadecimal string is an image id, not a repository name");
        var (domain, remainder) = SplitDomain(text);
        var nameEnd = remainder.IndexOfAny([':', '@']);
        var remainderName = nameEnd < 0 ? remainder : remainder[..nameEnd];
        if (remainderName.Any(char.IsUpper))
            throw Invalid(text, "repository name must be lowercase");
        var full = domain + "/" + remainder;
        var m = ReferenceRegex().Match(full);
        if (!m.Success) throw Invalid(text, "not of the form [HOST[:PORT]/]NAME[:TAG][@DIGEST]");
        var name = m.Groups[1].Value;
        if (name.Length > NameTotalLengthMax)
            throw Invalid(text, $"repository name must not be longer than {NameTotalLengthMax} characters");
        var slash = name.IndexOf('/');
        var digest = m.Groups[3].Success ? m.Groups[3].Value : null;
        if (digest is not null) CheckDigest(digest, text);
        return new ImageReference(name[..slash], name[(slash + 1)..], m.Groups[2].Success ? m.Groups[2].Value : null, digest);
    }

    public ImageReference WithDefaultTag() => Tag is null && Digest is null ? this with { Tag = DefaultTag } : this;

    /// <summary>
    /// Docker's splitDockerDomain: the part before the first '/' is a registry only if it looks
    /// like one (has a '.' or a ':', is "localhost", or has upper case); otherwise docker.io, and
    /// a single-component name on docker.io gets "library/".
    /// </summary>
    private static (string Domain, string Remainder) SplitDomain(string text)
    {
        var i = text.IndexOf('/');
        string domain, remainder;
        if (i < 0 || (text.AsSpan(0, i).IndexOfAny('.', ':') < 0 && text[..i] != "localhost" && !text[..i].Any(char.IsUpper)))
        {
            domain = DefaultDomain;
            remainder = text;
        }
        else
        {
            domain = text[..i];
            remainder = text[(i + 1)..];
            if (!DomainRegex().IsMatch(domain)) throw Invalid(text, $"invalid registry host '{domain}'");
        }
        if (domain == LegacyDefaultDomain) domain = DefaultDomain;
        if (domain == DefaultDomain && !remainder.Contains('/')) remainder = "library/" + remainder;
        return (domain, remainder);
    }

    /// <summary>go-digest's rules: a known algorithm (sha256, sha384, sha512) and exactly its length of lower-case hex.</summary>
    private static void CheckDigest(string digest, string text)
    {
        var colon = digest.IndexOf(':');
        var algorithm = digest[..colon];
        var hex = digest[(colon + 1)..];
        var length = algorithm switch
        {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => throw Invalid(text, $"unsupported digest algorithm '{algorithm}' (sha256, sha384, sha512)"),
        };
        if (hex.Length != length || hex.Any(char.IsAsciiLetterUpper))
            throw Invalid(text, $"a {algorithm} digest has {length} lower-case hexadecimal characters");
    }

    private static UsageException Invalid(string text, string why) => new($"invalid reference format '{text}': {why}");
}
