using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CrateRun.Core;
using CrateRun.Core.Images;
using Microsoft.Win32.SafeHandles;
using static CrateRun.Linux.Interop.Images;

namespace CrateRun.Linux.Images;

/// <summary>
/// Unpacks one layer (a tar stream, plain, gzip or zstd) into an empty snapshot directory, turning the
/// OCI whiteouts into overlayfs ones: <c>.wh.NAME</c> → a 0:0 character device NAME,
/// <c>.wh..wh..opq</c> → <c>trusted.overlay.opaque=y</c> on its directory.
///
/// Nothing lands outside the snapshot: names that climb out with ".." are refused
/// (<see cref="LayerEntries.CleanName"/>), and every parent directory is opened with
/// <c>openat2(RESOLVE_IN_ROOT)</c> from the snapshot's root, so a symlink an earlier entry
/// planted (<c>x -> /etc</c>, <c>x -> ../../..</c>) resolves inside the snapshot; the last
/// component is always created with *at() calls that do not follow it (O_NOFOLLOW, O_EXCL).
///
/// Rootless (an unprivileged user unpacking into its own store), what cannot be applied is kept
/// beside the file in user.* xattrs, which a later pass (a subuid mapping) could apply:
/// <list type="bullet">
/// <item>owners: every file is the user's, which the container's single-uid mapping shows as root;
///   an owner other than 0:0 is recorded as <c>user.craterun.owner</c> = "UID:GID"; symlinks and fifos,
///   which take no user.* xattrs (the kernel allows them on regular files and directories only), are
///   listed with their owners in a file beside the snapshot, SNAPSHOT<see cref="SpecialOwnersSuffix"/>;</item>
/// <item>character and block devices (mknod needs CAP_MKNOD): an empty file of mode 0 with
///   <c>user.craterun.device</c> = "c|b MAJOR:MINOR MODE" (fifos and overlay whiteouts, 0:0 devices,
///   are allowed and made);</item>
/// <item>xattrs of other namespaces the kernel refuses (security.capability): <c>user.craterun.NAME</c>;</item>
/// <item>opaque directories: <c>user.overlay.opaque</c>, read by an overlay mounted with userxattr;</item>
/// <item>directory modes apply at the end, deepest first (a 0555 directory must take its entries first).</item>
/// </list>
/// A user with subordinate ids then has the recorded owners and capabilities applied, shifted into
/// its range, by a helper in a user namespace mapped as its containers are (<see cref="Process.SubordinateOwners"/>);
/// a user who gets a range later has them applied when a container first uses the snapshot
/// (<see cref="ImageRootfs"/>), which is why they are recorded even without a range.
/// </summary>
public sealed unsafe class LayerUnpacker : IDisposable
{
    private const int ENOTSUP = 95, ELOOP = 40;
    private readonly SafeFd _root;
    private readonly string _rootPath;
    private readonly List<(string Path, DateTimeOffset Time)> _directoryTimes = [];
    private string? _cachedDir;
    private SafeFd? _cachedDirFd;
    private PaxXattrSniffer? _rawXattrs;
    private readonly bool _rootless = !Environment.IsPrivilegedProcess;
    private readonly List<(string Path, uint Mode)> _directoryModes = [];
    /// <summary>Rootless: what the kernel would not apply, kept in these user.* xattrs.</summary>
    public const string OwnerXattr = "user.craterun.owner", DeviceXattr = "user.craterun.device", KeptXattrPrefix = "user.craterun.";
    /// <summary>Rootless: the list of symlinks and fifos not root's, beside the snapshot (records "UID:GID\0PATH\0").</summary>
    public const string SpecialOwnersSuffix = ".owners";
    /// <summary>Rootless: the symlinks and fifos of other owners than 0:0, by path (the last entry of a path wins).</summary>
    private readonly Dictionary<string, (int Uid, int Gid)> _specialOwners = new(StringComparer.Ordinal);

    private LayerUnpacker(string rootPath)
    {
        _rootPath = rootPath;
        _root = new SafeFd(Interop.Check(Interop.Sys.open(rootPath, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC | Interop.Sys.O_NOFOLLOW, 0), "open", rootPath));
    }

    public void Dispose()
    {
        _cachedDirFd?.Dispose();
        _root.Dispose();
    }

    /// <summary>What an unpack found: the digest of the uncompressed tar (the layer's DiffID) and its size.</summary>
    public sealed record Result(string DiffId, long Size);

    /// <summary>Unpacks <paramref name="layer"/> (gzip or plain tar, detected by magic) into the empty directory <paramref name="snapshot"/>.</summary>
    public static Result Unpack(Stream layer, string snapshot)
    {
        var buffered = new BufferedStream(layer, 1 << 16);
        using var tar = new HashingStream(Decompressed(buffered));
        using (var u = new LayerUnpacker(snapshot))
        {
            var sniffer = new PaxXattrSniffer(tar);
            u._rawXattrs = sniffer;
            var reader = new TarReader(sniffer, leaveOpen: true);
            while (reader.GetNextEntry(copyData: false) is { } entry) u.Apply(entry);
            u.SetDirectoryTimes();
            u.WriteSpecialOwners(snapshot + SpecialOwnersSuffix);
        }
        tar.CopyTo(Stream.Null); // the end-of-archive blocks belong to the DiffID too
        // rootless with subordinate ids: the recorded owners are applied, shifted into the user's range
        if (!Environment.IsPrivilegedProcess && Process.SubordinateOwners.Ranges is not null) Process.SubordinateOwners.GiveRecordedOwners(snapshot);
        return new Result(tar.Digest(), tar.Length);
    }

    /// <summary>gzip (1f 8b) and zstd (28 b5 2f fd) are decompressed as they stream; anything else is a plain tar.</summary>
    private static Stream Decompressed(BufferedStream s)
    {
        Span<byte> magic = stackalloc byte[4];
        var n = 0;
        // peek: BufferedStream lets us read and seek back on its buffer only if the inner stream seeks; read and chain instead
        while (n < 4)
        {
            var r = s.Read(magic[n..]);
            if (r == 0) break;
            n += r;
        }
        var head = magic[..n].ToArray();
        var whole = new PrefixedStream(head, s);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return new GZipStream(whole, CompressionMode.Decompress);
        if (n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
            return new ZstdSharp.DecompressionStream(whole); // application/vnd.oci.image.layer.v1.tar+zstd
        return whole;
    }

    private void Apply(TarEntry e)
    {
        var name = LayerEntries.CleanName(e.Name);
        switch (LayerEntries.Classify(name, out var target))
        {
            case LayerEntryKind.Root:
                if (e.EntryType == TarEntryType.Directory) ApplyDirectoryMetadata(_root, "", e);
                return;
            case LayerEntryKind.Whiteout:
                {
                    var (parent, file) = LayerEntries.Split(target);
                    var dir = Dir(parent, e.Name);
                    RemoveExisting(dir, parent, file, keepDirectory: false);
                    if (_rootless) ForgetSpecialOwner(target, isDirectory: false);
                    Interop.Check(mknodat(dir, file, S_IFCHR, 0), "mknodat", target + " (whiteout)");
                    return;
                }
            case LayerEntryKind.OpaqueDirectory:
                {
                    using var path = OpenDirectory(target, e.Name);
                    // xattrs need a real fd, not an O_PATH one
                    using var fd = new SafeFd(Interop.Check(openat(path, ".", Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "openat", target));
                    SetXattr(fd, _rootless ? "user.overlay.opaque" : "trusted.overlay.opaque", "y"u8, target);
                    return;
                }
        }
        var (parentPath, last) = LayerEntries.Split(name);
        var parentFd = Dir(parentPath, e.Name);
        if (_rootless) ForgetSpecialOwner(name, e.EntryType == TarEntryType.Directory);
        switch (e.EntryType)
        {
            case TarEntryType.Directory:
                {
                    RemoveExisting(parentFd, parentPath, last, keepDirectory: true);
                    if (mkdirat(parentFd, last, 0x1C0) == -1 && Marshal.GetLastPInvokeError() != Interop.EEXIST)
                        throw new SyscallException("mkdirat", name, Marshal.GetLastPInvokeError());
                    using var fd = new SafeFd(Interop.Check(openat(parentFd, last, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_CLOEXEC, 0), "openat", name));
                    ApplyDirectoryMetadata(fd, name, e);
                    if (_cachedDir is not null && (_cachedDir == name || _cachedDir.StartsWith(name + "/", StringComparison.Ordinal))) DropCache();
                    return;
                }
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                {
                    RemoveExisting(parentFd, parentPath, last, keepDirectory: false);
                    var fd = Interop.Check(openat(parentFd, last, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | O_EXCL | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_CLOEXEC, 0x180), "openat", name);
                    using var handle = new SafeFileHandle(fd, ownsHandle: true);
                    using var file = new FileStream(handle, FileAccess.Write, 0);
                    e.DataStream?.CopyTo(file, 1 << 16);
                    // chown first: it clears setuid/setgid and security.capability, which come after it
                    Chown(fd, e, name);
                    // rootless, user.* xattrs need write permission on the file even for its owner: before a 0444 mode
                    if (_rootless) ApplyXattrs(fd, e, name);
                    Interop.Check(fchmod(fd, (uint)e.Mode), "fchmod", name);
                    if (!_rootless) ApplyXattrs(fd, e, name);
                    SetTime(fd, e.ModificationTime, name);
                    return;
                }
            case TarEntryType.SymbolicLink:
                {
                    RemoveExisting(parentFd, parentPath, last, keepDirectory: false);
                    Interop.Check(symlinkat(e.LinkName, parentFd, last), "symlinkat", name);
                    if (!_rootless) Interop.Check(fchownat(parentFd.Fd, last, (uint)e.Uid, (uint)e.Gid, AT_SYMLINK_NOFOLLOW), "fchownat", name);
                    else KeepSpecialOwner(name, e);
                    SetTime(parentFd.Fd, last, e.ModificationTime, name);
                    return;
                }
            case TarEntryType.HardLink:
                {
                    var linkTarget = LayerEntries.CleanName(e.LinkName);
                    if (linkTarget.Length == 0) throw new CrateRunException($"layer entry '{e.Name}': hard link to the root");
                    var (targetParent, targetName) = LayerEntries.Split(linkTarget);
                    using var targetDir = OpenDirectory(targetParent, e.Name, create: false);
                    RemoveExisting(parentFd, parentPath, last, keepDirectory: false);
                    Interop.Check(linkat(targetDir, targetName, parentFd, last, 0), "linkat", $"{linkTarget} -> {name}");
                    return;
                }
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                {
                    RemoveExisting(parentFd, parentPath, last, keepDirectory: false);
                    var posix = (PosixTarEntry)e;
                    var type = e.EntryType switch { TarEntryType.CharacterDevice => S_IFCHR, TarEntryType.BlockDevice => S_IFBLK, _ => S_IFIFO };
                    var dev = e.EntryType == TarEntryType.Fifo ? 0 : MakeDev(posix.DeviceMajor, posix.DeviceMinor);
                    if (_rootless && e.EntryType != TarEntryType.Fifo)
                    {
                        KeepDevice(parentFd, last, name, e, posix);
                        return;
                    }
                    Interop.Check(mknodat(parentFd, last, type | ((uint)e.Mode & 0xFFF), dev), "mknodat", name);
                    if (!_rootless) Interop.Check(fchownat(parentFd.Fd, last, (uint)e.Uid, (uint)e.Gid, AT_SYMLINK_NOFOLLOW), "fchownat", name);
                    else KeepSpecialOwner(name, e); // a fifo takes no user.* xattr
                    Interop.Check(fchmodat(parentFd.Fd, last, (uint)e.Mode & 0xFFF, 0), "fchmodat", name);
                    SetTime(parentFd.Fd, last, e.ModificationTime, name);
                    return;
                }
            default:
                throw new CrateRunException($"layer entry '{e.Name}': tar entry type {e.EntryType} is not supported");
        }
    }

    private void ApplyDirectoryMetadata(SafeFd dirFd, string name, TarEntry e)
    {
        using var fd = dirFd == _root
            ? new SafeFd(Interop.Check(openat(_root, ".", Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "openat", "."))
            : null;
        var target = fd ?? dirFd;
        Chown(target.Fd, e, name);
        if (_rootless)
        {
            // the user is no root: a directory it may not write (0555) could not take its own entries yet
            Interop.Check(fchmod(target.Fd, (uint)e.Mode | 0x1C0), "fchmod", name);
            _directoryModes.Add((name, (uint)e.Mode));
        }
        else Interop.Check(fchmod(target.Fd, (uint)e.Mode), "fchmod", name);
        ApplyXattrs(target.Fd, e, name);
        _directoryTimes.Add((name, e.ModificationTime)); // after the directory's own entries are written
    }

    private void SetDirectoryTimes()
    {
        // deepest first is not needed: setting a directory's mtime does not touch its parent's
        DropCache();
        ApplyDirectoryModes();
        foreach (var (path, time) in _directoryTimes)
        {
            if (path.Length == 0)
            {
                using var rootFd = new SafeFd(Interop.Check(openat(_root, ".", Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "openat", "/"));
                SetTime(rootFd.Fd, time, "/");
                continue;
            }
            var (parent, last) = LayerEntries.Split(path);
            SetTime(Dir(parent, path).Fd, last, time, path);
        }
    }

    /// <summary>Rootless: the final modes of directories, deepest first (a parent's mode may forbid reaching its children).</summary>
    private void ApplyDirectoryModes()
    {
        foreach (var (path, mode) in _directoryModes.OrderByDescending(d => d.Path.Length == 0 ? 0 : d.Path.Count(c => c == '/') + 1))
        {
            using var fd = new SafeFd(Interop.Check(OpenForMode(path), "openat2", path.Length == 0 ? "/" : path));
            Interop.Check(fchmod(fd.Fd, mode), "fchmod", path.Length == 0 ? "/" : path);
        }
        _directoryModes.Clear();
    }

    /// <summary>A directory of the snapshot, resolved inside it, opened for fchmod.</summary>
    private int OpenForMode(string path)
    {
        var how = new OpenHow
        {
            Flags = (ulong)(Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_CLOEXEC),
            Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        return (int)syscall_openat2(SYS_openat2, _root, path.Length == 0 ? "." : path, &how, (nuint)sizeof(OpenHow));
    }

    /// <summary>Root: the entry's owner. Rootless: the file stays the user's (root inside); another owner is recorded.</summary>
    private void Chown(int fd, TarEntry e, string name)
    {
        if (!_rootless) Interop.Check(fchown(fd, (uint)e.Uid, (uint)e.Gid), "fchown", name);
        else KeepOwner(fd, e, name);
    }

    /// <summary>Rootless: <see cref="OwnerXattr"/> = "UID:GID" when the entry is not root's.</summary>
    private static void KeepOwner(int fd, TarEntry e, string name)
    {
        if (e.Uid == 0 && e.Gid == 0) return;
        var value = Encoding.ASCII.GetBytes($"{e.Uid}:{e.Gid}");
        fixed (byte* p = value) Interop.Check(fsetxattr(fd, OwnerXattr, p, (nuint)value.Length, 0), "fsetxattr", $"{name} {OwnerXattr}");
    }

    /// <summary>Rootless: a symlink's or a fifo's owner, when not 0:0, for the list beside the snapshot.</summary>
    private void KeepSpecialOwner(string name, TarEntry e)
    {
        if (e.Uid != 0 || e.Gid != 0) _specialOwners[name] = (e.Uid, e.Gid);
    }

    /// <summary>
    /// Rootless: an entry replaces whatever was at its path (and a non-directory everything below it):
    /// their listed owners go. A directory over a directory keeps what is below it.
    /// </summary>
    private void ForgetSpecialOwner(string name, bool isDirectory)
    {
        if (_specialOwners.Count == 0) return;
        _specialOwners.Remove(name);
        if (isDirectory) return;
        foreach (var below in _specialOwners.Keys.Where(k => k.StartsWith(name + "/", StringComparison.Ordinal)).ToList()) _specialOwners.Remove(below);
    }

    /// <summary>Rootless: the list of symlinks and fifos with their owners, when there is any (see <see cref="SpecialOwnersSuffix"/>).</summary>
    private void WriteSpecialOwners(string path)
    {
        if (_specialOwners.Count == 0) return;
        var text = new StringBuilder();
        foreach (var (name, (uid, gid)) in _specialOwners) text.Append(uid).Append(':').Append(gid).Append('\0').Append(name).Append('\0');
        File.WriteAllText(path, text.ToString());
    }

    /// <summary>Reads a list <see cref="WriteSpecialOwners"/> wrote: path → (uid, gid); empty when there is none.</summary>
    public static Dictionary<string, (uint Uid, uint Gid)> ReadSpecialOwners(string path)
    {
        var owners = new Dictionary<string, (uint, uint)>(StringComparer.Ordinal);
        string text;
        try { text = File.ReadAllText(path); }
        catch (FileNotFoundException) { return owners; }
        var fields = text.Split('\0');
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            var ids = fields[i].Split(':');
            if (ids.Length == 2 && uint.TryParse(ids[0], out var uid) && uint.TryParse(ids[1], out var gid)) owners[fields[i + 1]] = (uid, gid);
        }
        return owners;
    }

    /// <summary>Rootless: a device node the user may not make becomes an empty file of mode 0 that says what it was.</summary>
    private void KeepDevice(SafeFd parentFd, string last, string name, TarEntry e, PosixTarEntry posix)
    {
        var fd = Interop.Check(openat(parentFd, last, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | O_EXCL | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_CLOEXEC, 0x180), "openat", name);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var value = Encoding.ASCII.GetBytes($"{(e.EntryType == TarEntryType.BlockDevice ? 'b' : 'c')} {posix.DeviceMajor}:{posix.DeviceMinor} {Convert.ToString((int)e.Mode & 0xFFF, 8)}");
        fixed (byte* p = value) Interop.Check(fsetxattr(fd, DeviceXattr, p, (nuint)value.Length, 0), "fsetxattr", $"{name} {DeviceXattr}");
        KeepOwner(fd, e, name);
        Interop.Check(fchmod(fd, 0), "fchmod", name); // last: user.* xattrs need write permission
        SetTime(fd, e.ModificationTime, name);
    }

    /// <summary>The PAX SCHILY.xattr.* records of an entry, set on the file (trusted.overlay.* from a layer is ignored: it steers overlayfs).</summary>
    private void ApplyXattrs(int fd, TarEntry e, string name)
    {
        if (e is not PaxTarEntry pax) return;
        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            if (!key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)) continue;
            var attr = key["SCHILY.xattr.".Length..];
            if (attr.StartsWith("trusted.overlay.", StringComparison.Ordinal) || attr.StartsWith("user.overlay.", StringComparison.Ordinal)) continue;
            if (attr.StartsWith(KeptXattrPrefix, StringComparison.Ordinal)) continue; // ours to write: a layer may not forge them
            // System.Formats.Tar hands PAX values over as UTF-8 text, which loses binary values (bytes ≥ 0x80
            // that are not UTF-8): the raw bytes come from the sniffer that read the same PAX header.
            byte[] bytes;
            if (_rawXattrs?.Current?.TryGetValue(attr, out var raw) == true) bytes = raw;
            else if (value.Contains('\uFFFD'))
                throw new CrateRunException($"layer entry '{e.Name}': the binary value of xattr {attr} cannot be read exactly");
            else bytes = Encoding.UTF8.GetBytes(value);
            fixed (byte* p = bytes)
            {
                if (fsetxattr(fd, attr, p, (nuint)bytes.Length, 0) == -1)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == ENOTSUP && !attr.StartsWith("security.capability", StringComparison.Ordinal)) continue; // e.g. security.selinux here
                    if (errno == Interop.EPERM && _rootless && !attr.StartsWith("user.", StringComparison.Ordinal))
                    {
                        // security.capability and trusted.* need privileges the user has not: kept aside
                        if (fsetxattr(fd, KeptXattrPrefix + attr, p, (nuint)bytes.Length, 0) == 0) continue;
                        errno = Marshal.GetLastPInvokeError();
                    }
                    throw new SyscallException("fsetxattr", $"{name} {attr}", errno);
                }
            }
        }
    }

    private static void SetXattr(SafeFd dirFd, string attr, ReadOnlySpan<byte> value, string name)
    {
        fixed (byte* p = value)
            Interop.Check(fsetxattr(dirFd.Fd, attr, p, (nuint)value.Length, 0), "fsetxattr", $"{(name.Length == 0 ? "/" : name)} {attr}");
    }

    private static void FillTimes(Timespec* ts, DateTimeOffset t)
    {
        var ticks = t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        ts[0] = new Timespec { Sec = 0, Nsec = UTIME_OMIT }; // atime: left as is
        ts[1] = new Timespec { Sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rem), Nsec = rem * 100 };
        if (ts[1].Nsec < 0) { ts[1].Sec--; ts[1].Nsec += 1_000_000_000; }
    }

    /// <summary>Sets the mtime of NAME in a directory without following it.</summary>
    private static void SetTime(int dirFd, string name, DateTimeOffset t, string what)
    {
        var ts = stackalloc Timespec[2];
        FillTimes(ts, t);
        Interop.Check(utimensat(dirFd, name, ts, AT_SYMLINK_NOFOLLOW), "utimensat", what);
    }

    private static void SetTime(int fd, DateTimeOffset t, string what)
    {
        var ts = stackalloc Timespec[2];
        FillTimes(ts, t);
        Interop.Check(futimens(fd, ts), "futimens", what);
    }

    /// <summary>The directory at a cleaned path, resolved inside the snapshot (created, with its parents, when missing). Cached: entries come grouped by directory.</summary>
    private SafeFd Dir(string path, string entry)
    {
        if (_cachedDir == path && _cachedDirFd is not null) return _cachedDirFd;
        DropCache();
        _cachedDirFd = OpenDirectory(path, entry);
        _cachedDir = path;
        return _cachedDirFd;
    }

    private void DropCache()
    {
        _cachedDirFd?.Dispose();
        _cachedDirFd = null;
        _cachedDir = null;
    }

    /// <summary>openat2(root, path, O_PATH|O_DIRECTORY, RESOLVE_IN_ROOT): symlinks and ".." resolve inside the snapshot.</summary>
    private SafeFd OpenDirectory(string path, string entry, bool create = true)
    {
        var how = new OpenHow
        {
            Flags = (ulong)(Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC),
            Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        var fd = syscall_openat2(SYS_openat2, _root, path.Length == 0 ? "." : path, &how, (nuint)sizeof(OpenHow));
        if (fd >= 0) return new SafeFd((int)fd);
        var errno = Marshal.GetLastPInvokeError();
        if (errno == Interop.ENOENT && create && path.Length > 0)
        {
            var (parent, last) = LayerEntries.Split(path);
            using (var parentFd = OpenDirectory(parent, entry))
            {
                if (mkdirat(parentFd, last, 0x1ED) == -1 && Marshal.GetLastPInvokeError() != Interop.EEXIST)
                    throw new SyscallException("mkdirat", path, Marshal.GetLastPInvokeError());
            }
            fd = syscall_openat2(SYS_openat2, _root, path, &how, (nuint)sizeof(OpenHow));
            if (fd >= 0) return new SafeFd((int)fd);
            errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.ENOENT)
                throw new CrateRunException($"layer entry '{entry}': '{path}' is a symlink to a directory that does not exist in the layer");
        }
        if (errno is Interop.ENOTDIR or ELOOP)
            throw new CrateRunException($"layer entry '{entry}': '{path}' is not a directory");
        throw new SyscallException("openat2", path, errno);
    }

    /// <summary>
    /// Makes room for a new entry: an existing non-directory is unlinked, an existing directory removed
    /// with its contents unless a directory replaces it (tar keeps it then, and its contents).
    /// </summary>
    private void RemoveExisting(SafeFd parentFd, string parentPath, string name, bool keepDirectory)
    {
        Interop.Sys.Stat st;
        if (fstatat(parentFd.Fd, name, (byte*)&st, AT_SYMLINK_NOFOLLOW) == -1) return; // nothing there
        var mode = st.Mode & S_IFMT;
        if (mode == S_IFDIR)
        {
            if (keepDirectory) return;
            DropCache();
            // the parent fd was resolved inside the snapshot; its real path names the same directory
            var real = Path.Combine(ReadLink($"/proc/self/fd/{parentFd.Fd}"), name);
            if (!real.StartsWith(_rootPath + "/", StringComparison.Ordinal))
                throw new CrateRunException($"internal error: '{real}' is not inside the snapshot");
            Directory.Delete(real, recursive: true);
            return;
        }
        Interop.Check(unlinkat(parentFd, name, 0), "unlinkat", parentPath.Length == 0 ? name : parentPath + "/" + name);
    }

    private static string ReadLink(string path) =>
        new FileInfo(path).LinkTarget ?? throw new CrateRunException($"cannot read the link {path}");

    /// <summary>Reads through; keeps the SHA-256 and the length of what went by.</summary>
    private sealed class HashingStream(Stream inner) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        public long Length_ { get; private set; }
        public override long Length => Length_;
        public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _hash.AppendData(buffer[..n]);
            Length_ += n;
            return n;
        }
        public override long Position { get => Length_; set => throw new NotSupportedException(); }
        protected override void Dispose(bool disposing)
        {
            if (disposing) { inner.Dispose(); _hash.Dispose(); }
            base.Dispose(disposing);
        }
    }

    /// <summary>A few bytes already read (the magic), then the rest of the stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : ReadOnlyStream
    {
        private int _offset;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_offset < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsSpan(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }
            return rest.Read(buffer);
        }
        protected override void Dispose(bool disposing)
        {
            if (disposing) rest.Dispose();
            base.Dispose(disposing);
        }
    }
}
