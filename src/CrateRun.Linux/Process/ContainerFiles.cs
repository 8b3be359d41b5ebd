using System.Runtime.InteropServices;
using System.Text;

namespace CrateRun.Linux.Process;

/// <summary>
/// `craterun cp`: files and directories copied out of or into a container's root. The container
/// controls that tree, so every container path is opened with openat2(RESOLVE_IN_ROOT) from the
/// root: a symlink planted there (to /etc, or "../../..") resolves inside the container, never
/// on the host. Entries below the named one are never followed (symlinks are copied as links);
/// modes are kept.
/// </summary>
public static unsafe partial class ContainerFiles
{
    /// <summary>Copies the container's <paramref name="containerPath"/> to the host; into <paramref name="hostPath"/> when that is a directory.</summary>
    public static void CopyOut(string root, string containerPath, string hostPath)
    {
        using var rootFd = OpenRoot(root);
        var rel = Relative(containerPath);
        var target = Directory.Exists(hostPath) ? Path.Combine(hostPath, BaseName(rel)) : hostPath;
        CopyOutEntry(rootFd, rel, target, followLast: true);
    }

    /// <summary>
    /// Docker's copy-up of a volume: the children of the container's directory <paramref name="containerPath"/>
    /// (resolved inside <paramref name="root"/>) copied into the empty host directory <paramref name="hostDir"/>,
    /// owners and modes kept, and the directory's own owner and mode given to <paramref name="hostDir"/>.
    /// False (nothing copied) when the path is missing or not a directory. Device nodes, fifos and sockets are skipped.
    /// </summary>
    public static bool CopyContentsOut(string root, string containerPath, string hostDir)
    {
        using var rootFd = OpenRoot(root);
        var rel = Relative(containerPath);
        using var dirFd = TryOpen(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY, 0);
        if (dirFd is null) return false;
        var st = StatOf(dirFd, rel);
        foreach (var child in Directory.EnumerateFileSystemEntries($"/proc/self/fd/{dirFd.Fd}").Select(Path.GetFileName).Order(StringComparer.Ordinal))
            CopyOutEntry(rootFd, CombineRel(rel, child!), Path.Combine(hostDir, child!), followLast: false, keepOwner: true);
        Own(hostDir, st, link: false);
        return true;
    }

    /// <summary>Copies the host's <paramref name="hostPath"/> into the container; into <paramref name="containerPath"/> when that is a directory there.</summary>
    public static void CopyIn(string hostPath, string root, string containerPath)
    {
        if (!File.Exists(hostPath) && !Directory.Exists(hostPath) && new FileInfo(hostPath).LinkTarget is null)
            throw new Core.CrateRunException($"cp: no such file or directory: {hostPath}");
        using var rootFd = OpenRoot(root);
        var rel = Relative(containerPath);
        var isDir = TryOpen(rootFd, rel, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0) is { } d && Dispose(d);
        var target = isDir ? CombineRel(rel, Path.GetFileName(Path.TrimEndingDirectorySeparator(hostPath))) : rel;
        if (target.Length == 0) throw new Core.CrateRunException("cp: cannot replace the container's root directory");
        CopyInEntry(rootFd, hostPath, target);
    }

    private static void CopyOutEntry(SafeFd rootFd, string rel, string hostPath, bool followLast, bool keepOwner = false)
    {
        var nofollow = followLast ? 0 : Interop.Sys.O_NOFOLLOW;
        using var pathFd = TryOpen(rootFd, rel, Interop.Sys.O_PATH | nofollow, 0)
            ?? throw new Core.CrateRunException($"cp: no such file or directory in the container: /{rel}");
        var st = StatOf(pathFd, rel);
        var kind = st.Mode & Interop.Sys.S_IFMT;
        var mode = (UnixFileMode)(st.Mode & 0xFFF);
        if (kind == Interop.Copy.S_IFDIR)
        {
            Directory.CreateDirectory(hostPath);
            using (var dirFd = Open(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | nofollow, 0))
            {
                foreach (var child in Directory.EnumerateFileSystemEntries($"/proc/self/fd/{dirFd.Fd}").Select(Path.GetFileName).Order(StringComparer.Ordinal))
                    CopyOutEntry(rootFd, CombineRel(rel, child!), Path.Combine(hostPath, child!), followLast: false, keepOwner);
            }
            File.SetUnixFileMode(hostPath, mode);
            if (keepOwner) Own(hostPath, st, link: false);
        }
        else if (kind == Interop.Sys.S_IFREG)
        {
            using var file = Open(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_NOCTTY | nofollow, 0);
            using (var output = new FileStream(hostPath, FileMode.Create, FileAccess.Write))
            {
                var buffer = new byte[1 << 16];
                while (true)
                {
                    nint n;
                    fixed (byte* b = buffer) n = Interop.Sys.read(file, b, buffer.Length);
                    if (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                    if (n < 0) throw new SyscallException("read", $"the container's /{rel}", Marshal.GetLastPInvokeError());
                    if (n == 0) break;
                    output.Write(buffer, 0, (int)n);
                }
            }
            File.SetUnixFileMode(hostPath, mode);
            if (keepOwner) Own(hostPath, st, link: false);
        }
        else if (kind == Interop.Copy.S_IFLNK)
        {
            var buffer = new byte[4096];
            nint n;
            fixed (byte* b = buffer) n = Interop.Copy.readlinkat(pathFd, "", b, (nuint)buffer.Length);
            if (n < 0) throw new SyscallException("readlinkat", $"the container's /{rel}", Marshal.GetLastPInvokeError());
            if (File.Exists(hostPath) || new FileInfo(hostPath).LinkTarget is not null) File.Delete(hostPath);
            File.CreateSymbolicLink(hostPath, Encoding.UTF8.GetString(buffer, 0, (int)n));
            if (keepOwner) Own(hostPath, st, link: true);
        }
        else if (keepOwner)
        {
            // a volume's copy-up: devices, fifos and sockets of the image are not carried into it
        }
        else
        {
            throw new Core.CrateRunException($"cp: the container's /{rel} is not a file, directory or symlink: not copied");
        }
    }

    private static void CopyInEntry(SafeFd rootFd, string hostPath, string rel)
    {
        var info = new FileInfo(hostPath);
        var (parentRel, name) = (DirName(rel), BaseName(rel));
        if (info.LinkTarget is { } linkTarget)
        {
            using var parent = Open(rootFd, parentRel, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0);
            Interop.Check(Interop.Copy.symlinkat(linkTarget, parent, name), "symlinkat", $"the container's /{rel}");
        }
        else if (Directory.Exists(hostPath))
        {
            var mode = (uint)File.GetUnixFileMode(hostPath);
            using (var parent = Open(rootFd, parentRel, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY, 0))
            {
                if (Interop.Copy.mkdirat(parent, name, 0x1C0 /* 0700 */) < 0 && Marshal.GetLastPInvokeError() != Interop.Copy.EEXIST)
                    throw new SyscallException("mkdirat", $"the container's /{rel}", Marshal.GetLastPInvokeError());
            }
            foreach (var child in Directory.EnumerateFileSystemEntries(hostPath).Order(StringComparer.Ordinal))
                CopyInEntry(rootFd, child, CombineRel(rel, Path.GetFileName(child)));
            // an existing entry of that name must be a real directory: O_NOFOLLOW refuses a planted symlink
            using var dir = Open(rootFd, rel, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_NOFOLLOW, 0);
            Interop.Check(Interop.Copy.fchmod(dir, mode), "fchmod", $"the container's /{rel}");
        }
        else
        {
            var mode = (uint)File.GetUnixFileMode(hostPath);
            // O_NOFOLLOW: a symlink at the destination's name is refused, not written through
            using var file = Open(rootFd, rel, Interop.Sys.O_WRONLY | Interop.Sys.O_CREAT | 0x200 /* O_TRUNC */ | Interop.Sys.O_NOFOLLOW | Interop.Sys.O_NOCTTY, 0x180 /* 0600 */);
            using (var input = File.OpenRead(hostPath))
            {
                var buffer = new byte[1 << 16];
                int n;
                while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
                {
                    var done = 0;
                    while (done < n)
                    {
                        nint w;
                        fixed (byte* b = buffer) w = Interop.Sys.write(file, b + done, n - done);
                        if (w < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR) continue;
                        if (w < 0) throw new SyscallException("write", $"the container's /{rel}", Marshal.GetLastPInvokeError());
                        done += (int)w;
                    }
                }
            }
            Interop.Check(Interop.Copy.fchmod(file, mode), "fchmod", $"the container's /{rel}");
        }
    }

    /// <summary>The owner of <paramref name="st"/> on a host path (never through a symlink); the mode again after it, as chown clears set-id bits.</summary>
    private static void Own(string hostPath, Interop.Sys.Stat st, bool link)
    {
        Interop.Check(Interop.Images.fchownat(Interop.Images.AT_FDCWD, hostPath, st.Uid, st.Gid, Interop.Images.AT_SYMLINK_NOFOLLOW), "fchownat", hostPath);
        if (!link) File.SetUnixFileMode(hostPath, (UnixFileMode)(st.Mode & 0xFFF));
    }

    private static SafeFd OpenRoot(string root) => new(Interop.Check(
        Interop.Sys.open(root, Interop.Sys.O_PATH | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "open", root));

    private static SafeFd Open(SafeFd rootFd, string rel, int flags, uint mode) =>
        TryOpen(rootFd, rel, flags, mode, throwMissing: true)!;

    /// <summary>openat2(root, rel, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS); null when it does not exist.</summary>
    private static SafeFd? TryOpen(SafeFd rootFd, string rel, int flags, uint mode, bool throwMissing = false) =>
        TryOpenResolved(rootFd, rel, flags, mode, Interop.Sys.RESOLVE_IN_ROOT | Interop.Sys.RESOLVE_NO_MAGICLINKS, throwMissing);

    private static SafeFd? TryOpenResolved(SafeFd rootFd, string rel, int flags, uint mode, ulong resolve, bool throwMissing)
    {
        var how = new Interop.Sys.OpenHow
        {
            Flags = (ulong)(flags | Interop.Sys.O_CLOEXEC),
            Mode = mode,
            Resolve = resolve,
        };
        var pathBytes = Encoding.UTF8.GetBytes((rel.Length == 0 ? "." : rel) + "\0");
        long fd;
        fixed (byte* p = pathBytes)
            fd = Interop.Sys.syscall_openat2(Interop.Sys.SYS_openat2, rootFd, p, &how, (nuint)sizeof(Interop.Sys.OpenHow));
        if (fd >= 0) return new SafeFd((int)fd);
        var err = Marshal.GetLastPInvokeError();
        if (!throwMissing && err is Interop.ENOENT or 20 /* ENOTDIR */) return null;
        throw new SyscallException("openat2", $"the container's /{rel}", err);
    }

    private static Interop.Sys.Stat StatOf(SafeFd fd, string rel)
    {
        Interop.Sys.Stat st;
        Interop.Check(Interop.Sys.fstat(fd, (byte*)&st), "fstat", $"the container's /{rel}");
        return st;
    }

    private static bool Dispose(SafeFd fd)
    {
        fd.Dispose();
        return true;
    }

    private static string Relative(string containerPath) => string.Join('/', containerPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
    private static string CombineRel(string rel, string name) => rel.Length == 0 ? name : rel + "/" + name;
    private static string DirName(string rel) => rel.Contains('/') ? rel[..rel.LastIndexOf('/')] : "";
    private static string BaseName(string rel) => rel.Contains('/') ? rel[(rel.LastIndexOf('/') + 1)..] : rel;
}
