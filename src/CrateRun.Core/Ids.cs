namespace CrateRun.Core;

/// <summary>Container ids: 16 lowercase hex characters, as in the seed.</summary>
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

    public static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
