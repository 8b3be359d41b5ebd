using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using CrateRun.Linux.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>A fact that needs root (owners, device nodes, trusted.* xattrs). Skipped otherwise, except with CI=true.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess && Environment.GetEnvironmentVariable("CI") != "true") Skip = "needs root";
    }
}

/// <summary>
/// Unpacking crafted layers into a snapshot: every kind of entry keeps its metadata, OCI
/// whiteouts become overlayfs ones, and nothing lands outside the snapshot.
/// </summary>
public sealed unsafe class LayerUnpackerTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private static readonly DateTimeOffset Mtime = new(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public void Dispose() => _tmp.Dispose();

    private static byte[] Tar(Action<TarWriter> write)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true)) write(w);
        return ms.ToArray();
    }

    private static PaxTarEntry Entry(TarEntryType type, string name, int mode = 0x1ED, int uid = 0, int gid = 0, string? content = null,
        string? link = null, Dictionary<string, string>? pax = null)
    {
        var e = pax is null ? new PaxTarEntry(type, name) : new PaxTarEntry(type, name, pax);
        e.Mode = (UnixFileMode)mode;
        e.Uid = uid;
        e.Gid = gid;
        e.ModificationTime = Mtime;
        if (link is not null) e.LinkName = link;
        if (content is not null) e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content));
        return e;
    }

    private string Unpack(byte[] layer, out LayerUnpacker.Result result)
    {
        var snap = _tmp.Dir("snap-" + Guid.NewGuid().ToString("N")[..8]);
        result = LayerUnpacker.Unpack(new MemoryStream(layer), snap);
        return snap;
    }

    private static (uint Mode, uint Uid, uint Gid, ulong Rdev, long Mtime) Lstat(string path)
    {
        byte* st = stackalloc byte[256];
        if (Linux.Interop.Images.fstatat(Linux.Interop.Images.AT_FDCWD, path, st, Linux.Interop.Images.AT_SYMLINK_NOFOLLOW) != 0)
            throw new FileNotFoundException(path);
        // struct stat on x86_64: st_mode at 24, st_uid 28, st_gid 32, st_rdev 40, st_mtim 88
        return (*(uint*)(st + 24), *(uint*)(st + 28), *(uint*)(st + 32), *(ulong*)(st + 40), *(long*)(st + 88));
    }

    private static string? Xattr(string path, string name)
    {
        byte* buf = stackalloc byte[256];
        var n = Linux.Interop.Images.lgetxattr(path, name, buf, 256);
        return n < 0 ? null : Encoding.Latin1.GetString(buf, (int)n);
    }

    [RootFact]
    public void Every_entry_type_keeps_owner_mode_and_time()
    {
        var cap = "\u0001\0\0\u0002\0\u0020\0\0\0\0\0\0\0\0\0\0\0\0\0\0"; // v2 capability: cap_net_raw permitted, effective
        var layer = Tar(w =>
        {
            w.WriteEntry(Entry(TarEntryType.Directory, "bin/", 0x1ED));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "bin/su", 0x9ED /* 04755 */, 0, 0, "su"));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "bin/ping", 0x1ED, 0, 0, "ping", pax: new() { ["SCHILY.xattr.security.capability"] = cap, ["SCHILY.xattr.user.note"] = "hi" }));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "home/u/f", 0x1A4, 1000, 1001, "data"));
            w.WriteEntry(Entry(TarEntryType.SymbolicLink, "bin/sh", 0x1FF, 0, 0, link: "su"));
            w.WriteEntry(Entry(TarEntryType.HardLink, "bin/su2", link: "bin/su"));
            w.WriteEntry(Entry(TarEntryType.Fifo, "run/fifo", 0x1B0));
            var dev = Entry(TarEntryType.CharacterDevice, "dev/null", 0x1B6);
            dev.DeviceMajor = 1;
            dev.DeviceMinor = 3;
            w.WriteEntry(dev);
            w.WriteEntry(Entry(TarEntryType.Directory, "tmp/", 0x3FF /* 01777 */));
        });
        var snap = Unpack(layer, out var result);

        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(layer)), result.DiffId);
        Assert.Equal(layer.Length, result.Size);
        var su = Lstat(Path.Combine(snap, "bin/su"));
        Assert.Equal(0x8000u | 0x9ED, su.Mode);
        Assert.Equal(Mtime.ToUnixTimeSeconds(), su.Mtime);
        Assert.Equal("su", File.ReadAllText(Path.Combine(snap, "bin/su2")));
        Assert.Equal(su.Mode, Lstat(Path.Combine(snap, "bin/su2")).Mode);
        Assert.Equal(cap, Xattr(Path.Combine(snap, "bin/ping"), "security.capability"));
        Assert.Equal("hi", Xattr(Path.Combine(snap, "bin/ping"), "user.note"));
        var f = Lstat(Path.Combine(snap, "home/u/f"));
        Assert.Equal((1000u, 1001u, 0x81A4u), (f.Uid, f.Gid, f.Mode));
        Assert.Equal("su", new FileInfo(Path.Combine(snap, "bin/sh")).LinkTarget);
        Assert.Equal(0x1000u | 0x1B0, Lstat(Path.Combine(snap, "run/fifo")).Mode);
        var nul = Lstat(Path.Combine(snap, "dev/null"));
        Assert.Equal((0x2000u | 0x1B6, Linux.Interop.Images.MakeDev(1, 3)), (nul.Mode, nul.Rdev));
        Assert.Equal(0x4000u | 0x3FF, Lstat(Path.Combine(snap, "tmp")).Mode);
        Assert.Equal(Mtime.ToUnixTimeSeconds(), Lstat(Path.Combine(snap, "bin")).Mtime); // set after its entries were written
    }

    [RootFact]
    public void Whiteouts_become_overlayfs_whiteouts()
    {
        var layer = Tar(w =>
        {
            w.WriteEntry(Entry(TarEntryType.Directory, "etc/"));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "etc/.wh.motd", 0x1A4, content: ""));
            w.WriteEntry(Entry(TarEntryType.Directory, "var/cache/"));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "var/cache/.wh..wh..opq", 0x1A4, content: ""));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "var/cache/new", 0x1A4, content: "n"));
        });
        var snap = Unpack(layer, out _);
        var wh = Lstat(Path.Combine(snap, "etc/motd"));
        Assert.Equal((0x2000u, 0ul), (wh.Mode & 0xF000, wh.Rdev));
        Assert.False(File.Exists(Path.Combine(snap, "etc/.wh.motd")));
        Assert.Equal("y", Xattr(Path.Combine(snap, "var/cache"), "trusted.overlay.opaque"));
        Assert.False(File.Exists(Path.Combine(snap, "var/cache/.wh..wh..opq")));
        Assert.Equal("n", File.ReadAllText(Path.Combine(snap, "var/cache/new")));
    }

    [RootFact]
    public void Gzip_layers_have_the_diff_id_of_their_tar()
    {
        var layer = Tar(w => w.WriteEntry(Entry(TarEntryType.RegularFile, "a", 0x1A4, content: "a")));
        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) z.Write(layer);
        Unpack(gz.ToArray(), out var result);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(layer)), result.DiffId);
    }

    [RootFact]
    public void Dot_dot_names_are_refused()
    {
        var outside = _tmp.Sub("evil");
        var layer = Tar(w => w.WriteEntry(Entry(TarEntryType.RegularFile, "../evil", 0x1A4, content: "x")));
        var e = Assert.Throws<CrateRunException>(() => Unpack(layer, out _));
        Assert.Contains("climbs out", e.Message);
        Assert.False(File.Exists(outside));
    }

    [RootFact]
    public void A_hard_link_out_of_the_layer_is_refused()
    {
        var layer = Tar(w => w.WriteEntry(Entry(TarEntryType.HardLink, "passwd", link: "../../../../../etc/passwd")));
        Assert.Throws<CrateRunException>(() => Unpack(layer, out _));
    }

    [RootFact]
    public void A_planted_symlink_to_slash_resolves_inside_the_snapshot()
    {
        var host = _tmp.Dir("host-target");
        var layer = Tar(w =>
        {
            w.WriteEntry(Entry(TarEntryType.SymbolicLink, "root-link", link: "/"));
            w.WriteEntry(Entry(TarEntryType.SymbolicLink, "up-link", link: "../../../../../.."));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "root-link" + host + "-not/x", 0x1A4, content: "x")); // parents made inside
            w.WriteEntry(Entry(TarEntryType.RegularFile, "up-link/file-via-up", 0x1A4, content: "u"));
        });
        var snap = Unpack(layer, out _);
        Assert.Equal("u", File.ReadAllText(Path.Combine(snap, "file-via-up")));
        Assert.True(File.Exists(Path.Combine(snap, host.TrimStart('/') + "-not/x")));
        Assert.False(Directory.Exists(host + "-not"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(host));
    }

    [RootFact]
    public void A_symlink_to_a_host_directory_is_not_followed_out()
    {
        var host = _tmp.Dir("host-dir");
        var layer = Tar(w =>
        {
            w.WriteEntry(Entry(TarEntryType.SymbolicLink, "esc", link: host));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "esc/pwned", 0x1A4, content: "x"));
        });
        var e = Assert.Throws<CrateRunException>(() => Unpack(layer, out _));
        Assert.Contains("esc", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(host));
    }

    [RootFact]
    public void A_file_replaces_a_planted_symlink_instead_of_writing_through_it()
    {
        var host = _tmp.Sub("host-file");
        File.WriteAllText(host, "original");
        var layer = Tar(w =>
        {
            w.WriteEntry(Entry(TarEntryType.SymbolicLink, "f", link: host));
            w.WriteEntry(Entry(TarEntryType.RegularFile, "f", 0x1A4, content: "new"));
        });
        var snap = Unpack(layer, out _);
        Assert.Equal("original", File.ReadAllText(host));
        Assert.Null(new FileInfo(Path.Combine(snap, "f")).LinkTarget);
        Assert.Equal("new", File.ReadAllText(Path.Combine(snap, "f")));
    }
}
