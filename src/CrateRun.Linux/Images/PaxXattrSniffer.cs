using System.Buffers.Text;
using System.Text;

namespace CrateRun.Linux.Images;

/// <summary>
/// Reads through a tar stream beside <see cref="System.Formats.Tar.TarReader"/> and keeps the raw bytes
/// of the PAX <c>SCHILY.xattr.*</c> records of the entry the reader is at. TarReader hands PAX values
/// over as UTF-8 strings, which loses binary values (a <c>security.capability</c> with bytes ≥ 0x80);
/// the bytes here are exact. TarReader reads headers block by block without reading ahead, so when it
/// returns an entry this stream has just passed that entry's header (and its PAX header before it).
/// </summary>
public sealed class PaxXattrSniffer(Stream inner) : ReadOnlyStream
{
    private const int Block = 512;
    private const int MaxPaxBytes = 1 << 20;
    private readonly byte[] _header = new byte[Block];
    private int _headerFill;
    private long _skip;            // bytes of entry data (and padding) still to pass before the next header
    private long _paxLeft;         // bytes of a PAX 'x' body still to collect
    private long _paxPad;
    private MemoryStream? _pax;
    private Dictionary<string, byte[]>? _pending;

    /// <summary>The raw xattr values (name without the SCHILY.xattr. prefix) of the entry whose header was read last.</summary>
    public Dictionary<string, byte[]>? Current { get; private set; }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        Observe(buffer[..n]);
        return n;
    }

    private void Observe(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (_paxLeft > 0)
            {
                var take = (int)Math.Min(_paxLeft, data.Length);
                if (_pax!.Length + take <= MaxPaxBytes) _pax.Write(data[..take]);
                _paxLeft -= take;
                data = data[take..];
                if (_paxLeft == 0)
                {
                    _pending = ParseXattrs(_pax.ToArray());
                    _pax = null;
                    _skip = _paxPad;
                }
                continue;
            }
            if (_skip > 0)
            {
                var take = (int)Math.Min(_skip, data.Length);
                _skip -= take;
                data = data[take..];
                continue;
            }
            var copy = Math.Min(Block - _headerFill, data.Length);
            data[..copy].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += copy;
            data = data[copy..];
            if (_headerFill == Block)
            {
                _headerFill = 0;
                OnHeader();
            }
        }
    }

    private void OnHeader()
    {
        var type = (char)_header[156];
        var size = ParseSize(_header.AsSpan(124, 12));
        var padded = (size + Block - 1) / Block * Block;
        switch (type)
        {
            case 'x':
                _pax = new MemoryStream();
                _paxLeft = size;
                _paxPad = padded - size;
                if (size == 0)
                {
                    _pending = [];
                    _pax = null;
                }
                return;
            case 'g' or 'L' or 'K':
                _skip = padded; // global PAX, GNU long names: part of the next entry's header
                return;
            default:
                Current = _pending;
                _pending = null;
                _skip = padded; // as TarReader does: the size field says what follows, whatever the type

                return;
        }
    }

    /// <summary>The size field: octal text, or base-256 (high bit of the first byte set) for large files.</summary>
    private static long ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            long v = field[0] & 0x7f;
            for (var i = 1; i < field.Length; i++) v = (v << 8) | field[i];
            return v;
        }
        long size = 0;
        foreach (var b in field)
        {
            if (b is (byte)' ' or 0) { if (size > 0) break; continue; }
            if (b is < (byte)'0' or > (byte)'7') break;
            size = size * 8 + (b - '0');
        }
        return size;
    }

    /// <summary>PAX records are "LENGTH KEY=VALUE\n", LENGTH counting the whole record; values are bytes.</summary>
    private static Dictionary<string, byte[]> ParseXattrs(byte[] body)
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var span = body.AsSpan();
        while (span.Length > 0)
        {
            var space = span.IndexOf((byte)' ');
            if (space <= 0 || !Utf8Parser.TryParse(span[..space], out int length, out var used) || used != space || length <= space + 1 || length > span.Length) break;
            var record = span[(space + 1)..(length - 1)]; // without the trailing newline
            var eq = record.IndexOf((byte)'=');
            if (eq > 0)
            {
                var key = Encoding.UTF8.GetString(record[..eq]);
                if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)) result[key["SCHILY.xattr.".Length..]] = record[(eq + 1)..].ToArray();
            }
            span = span[length..];
        }
        return result;
    }

}
