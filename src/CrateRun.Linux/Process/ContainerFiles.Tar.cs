using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace CrateRun.Linux.Process;

/// <summary>
/// `craterun cp CTR:PATH -` and `craterun cp - CTR:DIR`: a tar stream out of, or into, a container's
/// root (System.Formats.Tar, PAX). Out: the entry named by its base name, then everything below it,
/// with modes, owners and times; symlinks below it stored as links, never followed. In: every entry is
/// made below DIR and nowhere else — a name with a ".." component is refused, an absolute one is taken
/// relative to DIR (as GNU tar does), and each parent is opened with openat2(RESOLVE_BENEATH) from DIR,
/// so a symlink in the container (to /etc, or "../..") cannot carry an entry out of it. An existing file,
/// link or empty name in the way is replaced, never written through.
/// </summary>
public static unsafe partial class ContainerFiles
{
    /// <summary>Writes the container's <paramref name="containerPath"/> (and all below it) as a tar stream.</summary>
    public static void WriteTar(string root, string containerPath, Stream output)
    {
        using var rootFd = OpenRoot(root);
        var rel = Relative(containerPath);
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var name = rel.Length == 0 ? "." : BaseName(rel);
        WriteTarEntry(writer, rootFd, rel, name, followLast: true);
    }

    private static void WriteTarEntry(TarWriter writer, SafeFd rootFd, string rel, string name, bool followLast)
    {
        var nofollow = followLast ? 0 : Interop.Sys.O_NOFOLLOW;
        using var pathFd = TryOpen(rootFd, rel, Interop.Sys.O_PATH | nofollow, 0)
            ?? throw new Core.CrateRunException($"cp: no such file or directory in the container: /{rel}");
        var st = StatOf(pathFd, rel);
        var kind = st.Mode & Interop.Sys.S_IFMT;
        PaxTarEntry Entry(TarEntryType type, string entryName) => new(type, entryName)
        {
            Mode = (UnixFileMode)(st.Mode & 0xFFF),
            Uid = (int)st.Uid,
            Gid = (int)st.Gid,
            ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.MTimeSec),
        };
        if (kind == Interop.Copy.S_IFDIR)
        {
            writer.WriteEntry(Entry(TarEntryType.Directory, name + "/"));
            using var dirFd = Open(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | nofollow, 0);
            foreach (var child in Directory.EnumerateFileSystemEntries($"/proc/self/fd/{dirFd.Fd}").Select(Path.GetFileName).Order(StringComparer.Ordinal))
                WriteTarEntry(writer, rootFd, CombineRel(rel, child!), name + "/" + child, followLast: false);
        }
        else if (kind == Interop.Sys.S_IFREG)
        {
            using var file = Open(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_NOCTTY | nofollow, 0);
            using var data = new FileStream(new SafeFileHandle(file.Fd, ownsHandle: false), FileAccess.Read, 1 << 16);
            var entry = Entry(TarEntryType.RegularFile, name);
            entry.DataStream = data;
            writer.WriteEntry(entry);
        }
        else if (kind == Interop.Copy.S_IFLNK)
        {
            var entry = Entry(TarEntryType.SymbolicLink, name);
            entry.LinkName = ReadLink(pathFd, rel);
            writer.WriteEntry(entry);
        }
        else if (kind is Interop.Copy.S_IFCHR or Interop.Copy.S_IFBLK or Interop.Copy.S_IFIFO)
        {
            var entry = Entry(kind switch
            {
                Interop.Copy.S_IFCHR => TarEntryType.CharacterDevice,
                Interop.Copy.S_IFBLK => TarEntryType.BlockDevice,
                _ => TarEntryType.Fifo,
            }, name);
            if (kind != Interop.Copy.S_IFIFO)
            {
                // glibc's major()/minor() of st_rdev
                entry.DeviceMajor = (int)(((st.Rdev >> 8) & 0xFFF) | ((st.Rdev >> 32) & ~0xFFFUL));
                entry.DeviceMinor = (int)((st.Rdev & 0xFF) | ((st.Rdev >> 12) & ~0xFFUL));
            }
            writer.WriteEntry(entry);
        }
        // sockets have no tar form: left out, as tar does
    }

    private static string ReadLink(SafeFd pathFd, string rel)
    {
        var buffer = new byte[4096];
        nint n;
        fixed (byte* b = buffer) n = Interop.Copy.readlinkat(pathFd, "", b, (nuint)buffer.Length);
        if (n < 0) throw new SyscallException("readlinkat", $"the container's /{rel}", Marshal.GetLastPInvokeError());
        return Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    /// <summary>
    /// Extracts the tar stream <paramref name="input"/> into the container's directory
    /// <paramref name="containerPath"/>; returns how many entries were made. Modes are kept; the
    /// entries belong to the caller (root), as docker cp makes them.
    /// </summary>
    public static int ExtractTar(Stream input, string root, string containerPath)
    {
        using var rootFd = OpenRoot(root);
        var rel = Relative(containerPath);
        using var dest = TryOpen(rootFd, rel, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0)
            ?? throw new Core.CrateRunException($"cp: the destination /{rel} must be an existing directory in the container when copying a tar stream from stdin");
        using var reader = new TarReader(input, leaveOpen: true);
        var count = 0;
        TarEntry? entry;
        try { entry = reader.GetNextEntry(); }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException) { throw NotTar(e); }
        while (entry is not null)
        {
            if (ExtractEntry(dest, entry)) count++;
            try { entry = reader.GetNextEntry(); }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException) { throw NotTar(e); }
        }
        return count;
    }

    private static Core.CrateRunException NotTar(Exception e) => new($"cp: the input is not a valid tar stream: {e.Message}");

    /// <summary>A tar entry's name as a path below the destination: "./" and "/" prefixes dropped, ".." refused.</summary>
    public static string EntryPath(string name)
    {
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".").ToList();
        if (parts.Contains(".."))
            throw new Core.CrateRunException($"cp: the tar entry '{name}' has a '..' component: refused (it would leave the destination)");
        return string.Join('/', parts);
    }

    private static bool ExtractEntry(SafeFd dest, TarEntry entry)
    {
        var rel = EntryPath(entry.Name);
        if (rel.Length == 0) return false; // "./": the destination itself
        var (parentRel, name) = (DirName(rel), BaseName(rel));
        using var parent = MakeDirsBeneath(dest, parentRel, entry.Name);
        var mode = (uint)entry.Mode & 0xFFF;
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                if (Interop.Copy.mkdirat(parent, name, 0x1C0 /* 0700 until its mode is set */) < 0 && Marshal.GetLastPInvokeError() != Interop.Copy.EEXIST)
                    throw new SyscallException("mkdirat", $"the container's {name} (tar entry '{entry.Name}')", Marshal.GetLastPInvokeError());
                using (var dir = OpenBeneath(parent, name, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_NOFOLLOW, 0, entry.Name))
                    Interop.Check(Interop.Copy.fchmod(dir, mode), "fchmod", entry.Name);
                return true;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                RemoveInTheWay(parent, name, entry.Name);
                using (var file = OpenBeneath(parent, name, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | Interop.Images.O_EXCL | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_NOCTTY, 0x180 /* 0600 */, entry.Name))
                {
                    if (entry.DataStream is { } data)
                    {
                        using var output = new FileStream(new SafeFileHandle(file.Fd, ownsHandle: false), FileAccess.Write, 1 << 16);
                        data.CopyTo(output);
                    }
                    Interop.Check(Interop.Copy.fchmod(file, mode), "fchmod", entry.Name);
                }
                return true;
            case TarEntryType.SymbolicLink:
                RemoveInTheWay(parent, name, entry.Name);
                // the link is made as it is: what it points to is resolved later, inside the container (and refused here for later entries)
                Interop.Check(Interop.Copy.symlinkat(entry.LinkName, parent, name), "symlinkat", entry.Name);
                return true;
            case TarEntryType.HardLink:
                {
                    // the target is found below the destination with the same rule, then linked by its fd: no path is followed twice
                    using var target = OpenBeneath(dest, EntryPath(entry.LinkName), Interop.Sys.O_PATH | Interop.Sys.O_NOFOLLOW, 0, entry.Name);
                    RemoveInTheWay(parent, name, entry.Name);
                    Interop.Check(Interop.Images.linkat(target, "", parent, name, Interop.Images.AT_EMPTY_PATH), "linkat", entry.Name);
                    return true;
                }
            case TarEntryType.Fifo:
                RemoveInTheWay(parent, name, entry.Name);
                Interop.Check(Interop.Images.mknodat(parent, name, Interop.Copy.S_IFIFO | mode, 0), "mknodat", entry.Name);
                return true;
            case TarEntryType.GlobalExtendedAttributes:
                return false;
            default:
                throw new Core.CrateRunException($"cp: the tar entry '{entry.Name}' is a {entry.EntryType}: not extracted (files, directories, links and fifos are)");
        }
    }

    /// <summary>The directory <paramref name="rel"/> below <paramref name="dest"/>, made as needed (0755), each step RESOLVE_BENEATH.</summary>
    private static SafeFd MakeDirsBeneath(SafeFd dest, string rel, string entryName)
    {
        var current = OpenBeneath(dest, "", Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0, entryName);
        foreach (var part in rel.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Interop.Copy.mkdirat(current, part, 0x1ED /* 0755 */) < 0 && Marshal.GetLastPInvokeError() != Interop.Copy.EEXIST)
                throw new SyscallException("mkdirat", $"{part} (tar entry '{entryName}')", Marshal.GetLastPInvokeError());
            var next = OpenBeneath(current, part, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0, entryName);
            current.Dispose();
            current = next;
        }
        return current;
    }

    /// <summary>openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS): a symlink that leaves <paramref name="dir"/> is refused with one line.</summary>
    private static SafeFd OpenBeneath(SafeFd dir, string rel, int flags, uint mode, string entryName)
    {
        try
        {
            return TryOpenResolved(dir, rel, flags, mode, Interop.Copy.RESOLVE_BENEATH | Interop.Sys.RESOLVE_NO_MAGICLINKS, throwMissing: true)!;
        }
        catch (SyscallException e) when (e.Errno == Interop.Copy.EXDEV)
        {
            throw new Core.CrateRunException($"cp: the tar entry '{entryName}' goes through a symlink that leads out of the destination: refused");
        }
    }

    /// <summary>A file, link or empty directory where an entry goes is removed first (unlinkat never follows it).</summary>
    private static void RemoveInTheWay(SafeFd parent, string name, string entryName)
    {
        if (Interop.Images.unlinkat(parent, name, 0) == 0) return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == Interop.ENOENT) return;
        if (errno is Interop.Copy.EISDIR or Interop.EPERM && Interop.Images.unlinkat(parent, name, Interop.Images.AT_REMOVEDIR) == 0) return;
        throw new SyscallException("unlinkat", $"{name} (tar entry '{entryName}')", Marshal.GetLastPInvokeError());
    }
}
