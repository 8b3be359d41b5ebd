namespace CrateRun.Core;

/// <summary>Container ids: 16 lowercase hex characters; shown as the first 12 (<see cref="Short"/>); any unique prefix names one.</summary>
public static class ContainerId
{
    public const int Length = 16;

    /// <summary>
    /// A new random id. Random.Shared is seeded from the kernel's randomness; the crypto RNG
    /// would load OpenSSL on every start (about 2 ms) for an id that needs no secrecy, and a
    /// clash is refused at registration anyway.
    /// </summary>
    public static string New()
    {
        Span<byte> b = stackalloc byte[Length / 2];
        Random.Shared.NextBytes(b);
        return Convert.ToHexStringLower(b);
    }

    public static bool IsFullId(string s) => s.Length == Length && s.All(char.IsAsciiHexDigitLower);

    /// <summary>Names and OCI ids: what runc accepts, and nothing that could climb a path.</summary>
    public static bool IsValidName(string s) =>
        s.Length is > 0 and <= 128 && s is not "." and not ".." &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '+');

    /// <summary>
    /// A container name (Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+): a letter or digit first, so
    /// a name never looks like a flag or a hidden file.
    /// </summary>
    public static bool IsValidContainerName(string s) =>
        s.Length is >= 2 and <= 128 && char.IsAsciiLetterOrDigit(s[0]) &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    /// <summary>The id as shown to people (ps, the default hostname): its first 12 characters, as Docker shows them.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Docker's word for the 12-character id; no VB caller sees Short as a type.")]
    public static string Short(string id) => id.Length > 12 ? id[..12] : id;
}

/// <summary>Host names given to a container's UTS namespace.</summary>
public static class Hostnames
{
    /// <summary>The kernel's limit for a host or domain name (__NEW_UTS_LEN).</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// The OCI face: anything the kernel accepts (runc checks no more), refused before the
    /// container exists when it is longer than the kernel's limit.
    /// </summary>
    public static void CheckLength(string? name, string field)
    {
        if (name is not null && System.Text.Encoding.UTF8.GetByteCount(name) > MaxLength)
            throw new UsageException($"{field} '{name}' is too long: {System.Text.Encoding.UTF8.GetByteCount(name)} bytes, the kernel allows at most {MaxLength}");
    }

    /// <summary>
    /// The Docker-like face: an RFC 1123 host name (dot-separated labels of letters, digits and
    /// '-', neither first nor last in a label, each at most 63 characters), at most 64 in all.
    /// </summary>
    public static void CheckRfc1123(string name, string option)
    {
        CheckLength(name, option);
        if (name.Length == 0)
            throw new UsageException($"invalid {option} '': a host name cannot be empty");
        foreach (var label in name.Split('.'))
        {
            var bad = label.Length == 0 ? "an empty label"
                : label.Length > 63 ? $"the label '{label}' is longer than 63 characters"
                : label[0] == '-' || label[^1] == '-' ? $"the label '{label}' starts or ends with '-'"
                : label.FirstOrDefault(c => !char.IsAsciiLetterOrDigit(c) && c != '-') is var c and not '\0' ? $"'{c}' is not allowed (letters, digits, '-' and '.' only)"
                : null;
            if (bad is not null) throw new UsageException($"invalid {option} '{name}': {bad} (RFC 1123)");
        }
    }
}
