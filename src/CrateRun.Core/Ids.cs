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
    public static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
