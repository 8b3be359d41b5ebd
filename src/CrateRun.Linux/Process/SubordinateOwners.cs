using System.Collections;
using System.Runtime.InteropServices;
using System.Text;
using CrateRun.Core;
using CrateRun.Core.Config;
using CrateRun.Linux.Images;

namespace CrateRun.Linux.Process;

/// <summary>
/// Rootless with subordinate ids: a user with a range in /etc/subuid and in /etc/subgid, and
/// the setuid newuidmap and newgidmap (Debian's uidmap) to map them, gets podman's mapping in
/// its containers: its own uid as 0, the range as 1..N. Image layers then carry their real
/// owners, shifted into the range on the host; only a process of the range may do that, so a
/// helper does it: this binary (<see cref="HelperArg"/>), cloned into a user namespace of its
/// own with the containers' maps (userns.c; the maps written by us with newuidmap/newgidmap
/// while it waits). It gives an unpacked layer the owners <see cref="LayerUnpacker"/> recorded,
/// and deletes trees holding files of the range (an upper dir, a layer), which the user alone
/// may not. Without a range (or the tools), containers map the user's uid only, as before.
/// </summary>
public static unsafe class SubordinateOwners
{
    /// <summary>argv[1] of the helper: <c>craterun _userns-helper owners|delete PATH</c>.</summary>
    public const string HelperArg = "_userns-helper";
    private const string GiveOwnersOp = "owners", DeleteOp = "delete";
    private const string KeptCapability = LayerUnpacker.KeptXattrPrefix + "security.capability";
    /// <summary>A setuid/setgid file's mode while its owner is given (chown clears those bits): a helper killed between the two finds it.</summary>
    private const string KeptMode = LayerUnpacker.KeptXattrPrefix + "mode";
    /// <summary>On a snapshot's root once every recorded owner in it was given (set last, by the helper).</summary>
    public const string OwnersGivenXattr = LayerUnpacker.KeptXattrPrefix + "owners-given";
    /// <summary>In the state root once the single-uid notice was printed.</summary>
    private const string NoticeMarker = ".single-uid-noticed";

    private static readonly Lazy<(SubordinateRange Uids, SubordinateRange Gids)?> s_ranges = new(FindRanges);
    private static string _missing = "";

    /// <summary>The user's ranges when its containers map them; null for root, or without a range of each or the tools.</summary>
    public static (SubordinateRange Uids, SubordinateRange Gids)? Ranges => s_ranges.Value;

    private static (SubordinateRange, SubordinateRange)? FindRanges()
    {
        if (Environment.IsPrivilegedProcess) return null;
        var uid = UserNamespaces.Uid;
        var name = Environment.UserName;
        var uids = SubordinateIds.Find(ReadOrNull("/etc/subuid"), name, uid);
        var gids = SubordinateIds.Find(ReadOrNull("/etc/subgid"), name, uid);
        if (uids is null || gids is null)
        {
            _missing = $"{name} has no range in /etc/subuid and /etc/subgid";
            return null;
        }
        if (OnPath("newuidmap") is null || OnPath("newgidmap") is null)
        {
            _missing = "newuidmap and newgidmap are missing (apt-get install uidmap)";
            return null;
        }
        return (uids, gids);
    }

    /// <summary>
    /// Rootless without ranges: the one line that says the container maps a single uid, the first
    /// time only (a marker in the state root); null otherwise.
    /// </summary>
    public static string? SingleUidNoticeOnce(string stateRoot)
    {
        if (Environment.IsPrivilegedProcess || Ranges is not null) return null;
        try
        {
            Directory.CreateDirectory(stateRoot);
            using (new FileStream(Path.Combine(stateRoot, NoticeMarker), FileMode.CreateNew, FileAccess.Write)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // noticed before (or the root is unusable, which the command says itself)
        }
        return $"craterun: note: {_missing}: containers map your uid alone (as root), and image files of other owners are root's inside (shown once)";
    }

    /// <summary>Gives an unpacked layer the owners its tar named, into the user's range (the helper does it).</summary>
    public static void GiveRecordedOwners(string tree) => RunHelper(GiveOwnersOp, tree, "giving the layer's files their owners");

    /// <summary>Whether a snapshot's recorded owners were given (<see cref="OwnersGivenXattr"/> on its root).</summary>
    public static bool OwnersGiven(string snapshot)
    {
        var buf = stackalloc byte[16];
        return Interop.Images.lgetxattr(snapshot, OwnersGivenXattr, buf, 16) >= 0;
    }

    /// <summary>Deletes a tree that holds files of the user's range (the helper does it); nothing happens without ranges.</summary>
    public static void DeleteTree(string tree)
    {
        if (Ranges is null) throw new UnauthorizedAccessException($"cannot remove {tree}: it holds files the user may not remove");
        RunHelper(DeleteOp, tree, "removing");
    }

    /// <summary>
    /// Clones this binary into a new user namespace, writes its maps (those of the user's
    /// containers: <see cref="SubordinateIds.RootlessMaps"/>), lets it run and waits for it.
    /// </summary>
    private static void RunHelper(string op, string path, string what)
    {
        var (subUids, subGids) = Ranges ?? throw new InvalidOperationException("no subordinate ids to map");
        var (uids, gids) = SubordinateIds.RootlessMaps(UserNamespaces.Uid, UserNamespaces.Gid, subUids, subGids);
        using var strings = new NativeArenaHandle();
        var argv = strings.StrArray(["craterun", HelperArg, op, Path.GetFullPath(path)]);
        var envp = strings.StrArray([.. Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")]);
        var exe = strings.Str("/proc/self/exe");
        int* fds = stackalloc int[2];
        Interop.Check(Interop.Sys.pipe2(fds, Interop.Sys.O_CLOEXEC), "pipe2");
        int pid;
        using (var goRead = new SafeFd(fds[0]))
        using (var goWrite = new SafeFd(fds[1]))
        {
            pid = Interop.Userns.crt_spawn_in_userns(exe, argv, envp, goRead.Fd, goWrite.Fd);
            if (pid < 0) throw new SyscallException("clone", "CLONE_NEWUSER", -pid);
            try
            {
                // the maps before it runs: until then it waits on the pipe
                UserNamespaces.WriteMaps(pid, uids, gids);
                byte go = 1;
                if (Interop.Sys.write(goWrite, &go, 1) != 1) throw new SyscallException("write", "the helper's pipe", Marshal.GetLastPInvokeError());
            }
            catch
            {
                Interop.Sys.kill(pid, Interop.Sys.SIGKILL);
                Launcher.Reap(pid);
                throw;
            }
        }
        var status = Launcher.Reap(pid);
        if (status != 0)
            throw new CrateRunException($"{what} {path} as your subordinate ids failed ({(status & 0x7f) switch { 0 => $"exit {(status >> 8) & 0xff}", var sig => $"signal {sig}" }})");
    }

    /// <summary>The helper, inside its user namespace (root there, with the user's ranges mapped).</summary>
    public static int HelperMain(string op, string path)
    {
        switch (op)
        {
            case DeleteOp:
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                return 0;
            case GiveOwnersOp:
                GiveOwners(path);
                return 0;
            default:
                throw new UsageException($"{HelperArg}: unknown operation '{op}'");
        }
    }

    /// <summary>
    /// Every entry below <paramref name="root"/> with a recorded owner gets it (ids past the
    /// ranges stay the user's, recorded): files and directories from their user.* xattr, symlinks
    /// and fifos (which take none) from the list beside the snapshot. Symlinks are never followed;
    /// the root stays the user's, so that it can be renamed into place. Then the list goes and
    /// <see cref="OwnersGivenXattr"/> marks the root. A helper killed half-way leaves what a
    /// second one finishes: each step can be done again, and nothing recorded goes before it is applied.
    /// </summary>
    private static void GiveOwners(string root)
    {
        var listed = LayerUnpacker.ReadSpecialOwners(root + LayerUnpacker.SpecialOwnersSuffix);
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(root));
        while (pending.TryPop(out var dir))
            foreach (var entry in dir.EnumerateFileSystemInfos())
            {
                ApplyRecorded(entry, listed, root);
                if (entry is DirectoryInfo sub && (entry.Attributes & FileAttributes.ReparsePoint) == 0) pending.Push(sub);
            }
        File.Delete(root + LayerUnpacker.SpecialOwnersSuffix);
        var given = "y"u8;
        fixed (byte* p = given)
            Interop.Check(Interop.Images.lsetxattr(root, OwnersGivenXattr, p, (nuint)given.Length, 0), "lsetxattr", $"{root} {OwnersGivenXattr}");
    }

    private static void ApplyRecorded(FileSystemInfo entry, Dictionary<string, (uint Uid, uint Gid)> listed, string root)
    {
        var path = entry.FullName;
        var type = SnapshotFiles.TypeOf(path);
        if (type is Interop.Images.S_IFLNK or Interop.Images.S_IFIFO)
        {
            // no xattrs here: the owner comes from the list, and there is no mode a chown could clear
            if (listed.TryGetValue(Path.GetRelativePath(root, path), out var ids)) Chown(path, ids.Uid, ids.Gid);
            return;
        }
        var owner = GetXattr(path, LayerUnpacker.OwnerXattr);
        if (owner is not null && ParseOwner(owner) is var (uid, gid))
        {
            // chown clears setuid and setgid: the mode is kept aside first (unless a helper killed earlier did), set again after
            var mode = GetXattr(path, KeptMode) is { } kept && uint.TryParse(Encoding.ASCII.GetString(kept), out var m) ? (UnixFileMode)m : entry.UnixFileMode;
            var special = type == Interop.Images.S_IFREG && (mode & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) != 0;
            if (special) SetXattr(path, KeptMode, Encoding.ASCII.GetBytes(((uint)mode).ToString()));
            if (Chown(path, uid, gid))
            {
                if (special) File.SetUnixFileMode(path, mode);
                RemoveXattr(path, LayerUnpacker.OwnerXattr);
            }
            if (special) RemoveXattr(path, KeptMode);
        }
        else if (type == Interop.Images.S_IFREG && GetXattr(path, KeptMode) is not null) RemoveXattr(path, KeptMode); // killed after the owner went
        // chown clears security.capability too: the kept one is applied after it
        if (type == Interop.Images.S_IFREG && GetXattr(path, KeptCapability) is { } capability)
        {
            fixed (byte* p = capability)
                if (Interop.Images.lsetxattr(path, "security.capability", p, (nuint)capability.Length, 0) == 0) RemoveXattr(path, KeptCapability);
        }
    }

    /// <summary>lchown; false (and the entry left as it is) for an id past the ranges (EINVAL).</summary>
    private static bool Chown(string path, uint uid, uint gid)
    {
        if (Interop.Images.fchownat(Interop.Images.AT_FDCWD, path, uid, gid, Interop.Images.AT_SYMLINK_NOFOLLOW) == 0) return true;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == Interop.EINVAL) return false;
        throw new SyscallException("lchown", $"{path} {uid}:{gid}", errno);
    }

    private static void SetXattr(string path, string name, byte[] value)
    {
        fixed (byte* p = value) Interop.Check(Interop.Images.lsetxattr(path, name, p, (nuint)value.Length, 0), "lsetxattr", $"{path} {name}");
    }

    private static (uint, uint)? ParseOwner(byte[] value)
    {
        var parts = Encoding.ASCII.GetString(value).Split(':');
        return parts.Length == 2 && uint.TryParse(parts[0], out var u) && uint.TryParse(parts[1], out var g) ? (u, g) : null;
    }

    private static byte[]? GetXattr(string path, string name)
    {
        var buf = stackalloc byte[256];
        var n = Interop.Images.lgetxattr(path, name, buf, 256);
        return n < 0 ? null : new ReadOnlySpan<byte>(buf, (int)n).ToArray();
    }

    private static void RemoveXattr(string path, string name) =>
        Interop.Check(Interop.Userns.lremovexattr(path, name), "lremovexattr", $"{path} {name}");

    private static string? ReadOrNull(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static string? OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin").Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
}
