using System.Security.Cryptography;

namespace CrateRun.Core;

/// <summary>Container ids: 16 lowercase hex characters, as in the seed.</summary>
public static class ContainerId
{
    public const int Length = 16;

    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length / 2));

    public static bool IsFullId(string s) => s.Length == Length && s.All(char.IsAsciiHexDigitLower);

    /// <summary>Names and OCI ids: what runc accepts, and nothing that could climb a path.</summary>
    public static bool IsValidName(string s) =>
        s.Length is > 0 and <= 128 && s is not "." and not ".." &&
        s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '+');

    public static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
