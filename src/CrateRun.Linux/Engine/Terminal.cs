namespace CrateRun.Linux.Engine;

/// <summary>The caller's terminal: raw mode while a container owns it, and window sizes.</summary>
public sealed unsafe class Terminal : IDisposable
{
    private const ulong TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414;
    private const int TermiosSize = 60, TCSANOW = 0;
    private readonly int _fd;
    private readonly byte[] _saved = new byte[TermiosSize];
    private bool _raw;

    private Terminal(int fd) => _fd = fd;

    public static bool IsTerminal(int fd) => Interop.Sys.isatty(fd) == 1;

    /// <summary>Puts <paramref name="fd"/> in raw mode (if it is a terminal) until disposed.</summary>
    public static Terminal MakeRaw(int fd)
    {
        var t = new Terminal(fd);
        if (!IsTerminal(fd)) return t;
        fixed (byte* saved = t._saved)
        {
            if (Interop.Sys.tcgetattr(fd, saved) != 0) return t;
            var raw = stackalloc byte[TermiosSize];
            new ReadOnlySpan<byte>(saved, TermiosSize).CopyTo(new Span<byte>(raw, TermiosSize));
            Interop.Sys.cfmakeraw(raw);
            t._raw = Interop.Sys.tcsetattr(fd, TCSANOW, raw) == 0;
        }
        return t;
    }

    /// <summary>Rows and columns of a terminal, or null.</summary>
    public static (ushort Rows, ushort Cols)? Size(int fd)
    {
        ushort* ws = stackalloc ushort[4];
        if (Interop.Sys.ioctl(fd, TIOCGWINSZ, ws) != 0) return null;
        return (ws[0], ws[1]);
    }

    /// <summary>Copies the size of terminal <paramref name="from"/> to the pty <paramref name="to"/>.</summary>
    public static void CopySize(int from, int to)
    {
        if (Size(from) is not { } s) return;
        ushort* ws = stackalloc ushort[4];
        ws[0] = s.Rows;
        ws[1] = s.Cols;
        Interop.Sys.ioctl(to, TIOCSWINSZ, ws);
    }

    public void Dispose()
    {
        if (!_raw) return;
        fixed (byte* saved = _saved) Interop.Sys.tcsetattr(_fd, TCSANOW, saved);
        _raw = false;
    }
}
