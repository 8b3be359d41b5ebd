namespace CrateRun.Core.Docker;

/// <summary>
/// Docker's detach keys (attach, run -it): a sequence such as <c>ctrl-p,ctrl-q</c> (the default)
/// that, typed on an attached stdin, detaches instead of reaching the container. Keys are
/// single characters or ctrl-CHAR (a-z, @, [, \, ], ^, _).
/// </summary>
public static class DetachKeys
{
    public const string Default = "ctrl-p,ctrl-q";

    /// <summary>The bytes of a --detach-keys value; a bad one is a one-line usage error.</summary>
    public static byte[] Parse(string text)
    {
        var keys = new List<byte>();
        foreach (var key in text.Split(','))
        {
            if (key.Length == 1 && key[0] < 128) keys.Add((byte)key[0]);
            else if (key.StartsWith("ctrl-", StringComparison.Ordinal) && key.Length == 6 && Control(key[5]) is { } b) keys.Add(b);
            else throw new UsageException($"invalid detach keys '{text}': '{key}' is not a character or ctrl-<value> (a-z, @, [, \\, ], ^, _)");
        }
        return [.. keys];
    }

    private static byte? Control(char c) => c switch
    {
        >= 'a' and <= 'z' => (byte)(c - 'a' + 1),
        '@' => 0,
        '[' => 27,
        '\\' => 28,
        ']' => 29,
        '^' => 30,
        '_' => 31,
        _ => null,
    };
}

/// <summary>
/// Finds the detach sequence in what the user types: the bytes to pass on, and whether the
/// sequence completed. A partial match is held back until it completes or fails (then it goes on).
/// </summary>
public sealed class DetachKeyMatcher(byte[] keys)
{
    private int _matched;

    /// <summary>Scans <paramref name="input"/>; writes what the container should get to <paramref name="forward"/>. True: detach now.</summary>
    public bool Feed(ReadOnlySpan<byte> input, List<byte> forward)
    {
        foreach (var b in input)
        {
            if (keys.Length > 0 && b == keys[_matched])
            {
                if (++_matched == keys.Length) return true;
                continue;
            }
            forward.AddRange(keys.AsSpan(0, _matched).ToArray()); // a prefix that did not continue is ordinary input
            _matched = 0;
            if (keys.Length > 0 && b == keys[0]) _matched = 1;
            else forward.Add(b);
        }
        return false;
    }
}
