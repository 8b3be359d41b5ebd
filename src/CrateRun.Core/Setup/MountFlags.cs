namespace CrateRun.Core.Setup;

/// <summary>The kernel's MS_* mount flags (linux/mount.h).</summary>
public static class MountFlags
{
    public const ulong ReadOnly = 1, NoSuid = 2, NoDev = 4, NoExec = 8, Synchronous = 16, Remount = 32,
        MandLock = 64, DirSync = 128, NoAtime = 1024, NoDirAtime = 2048, Bind = 4096, Move = 8192,
        Rec = 16384, Silent = 32768, Unbindable = 1 << 17, Private = 1 << 18, Slave = 1 << 19,
        Shared = 1 << 20, RelAtime = 1 << 21, StrictAtime = 1 << 24,
        NoSymFollow = 256, IVersion = 1 << 23, LazyTime = 1 << 25;

    /// <summary>The atime modes; a mount has exactly one of them.</summary>
    public const ulong AtimeModes = NoAtime | RelAtime | StrictAtime;

    /// <summary>Flags of the filesystem (superblock), not of one mount: a bind mount cannot change them.</summary>
    public const ulong SuperblockFlags = Synchronous | DirSync | MandLock | IVersion | LazyTime;
}

/// <summary>
/// An OCI mount's "options" list (runtime-spec config.md, "Mount Options"), sorted into flags
/// to set and to clear on the mount itself, flags to set and to clear on every mount of a
/// recursive bind ("rro", "rnosuid", ...), propagation and filesystem data.
/// </summary>
public sealed record ParsedMountOptions(ulong Flags, ulong Propagation, string Data, bool Bind, bool Recursive, bool RecursiveReadonly)
{
    /// <summary>MS_* flags that options such as rw, suid or atime clear on the mount itself.</summary>
    public ulong ClearFlags { get; init; }

    /// <summary>MS_* flags set on every mount of the tree (the "r" options: rro, rnosuid, rnoatime...).</summary>
    public ulong RecursiveFlags { get; init; }

    /// <summary>MS_* flags cleared on every mount of the tree (rrw, rsuid, ratime...).</summary>
    public ulong RecursiveClearFlags { get; init; }

    private static readonly Dictionary<string, (bool Clear, ulong Flag)> FlagOptions = new()
    {
        ["ro"] = (false, MountFlags.ReadOnly), ["rw"] = (true, MountFlags.ReadOnly),
        ["nosuid"] = (false, MountFlags.NoSuid), ["suid"] = (true, MountFlags.NoSuid),
        ["nodev"] = (false, MountFlags.NoDev), ["dev"] = (true, MountFlags.NoDev),
        ["noexec"] = (false, MountFlags.NoExec), ["exec"] = (true, MountFlags.NoExec),
        ["sync"] = (false, MountFlags.Synchronous), ["async"] = (true, MountFlags.Synchronous),
        ["dirsync"] = (false, MountFlags.DirSync),
        ["mand"] = (false, MountFlags.MandLock), ["nomand"] = (true, MountFlags.MandLock),
        ["noatime"] = (false, MountFlags.NoAtime), ["atime"] = (true, MountFlags.NoAtime),
        ["nodiratime"] = (false, MountFlags.NoDirAtime), ["diratime"] = (true, MountFlags.NoDirAtime),
        ["relatime"] = (false, MountFlags.RelAtime), ["norelatime"] = (true, MountFlags.RelAtime),
        ["strictatime"] = (false, MountFlags.StrictAtime), ["nostrictatime"] = (true, MountFlags.StrictAtime),
        ["nosymfollow"] = (false, MountFlags.NoSymFollow), ["symfollow"] = (true, MountFlags.NoSymFollow),
        ["lazytime"] = (false, MountFlags.LazyTime), ["nolazytime"] = (true, MountFlags.LazyTime),
        ["iversion"] = (false, MountFlags.IVersion), ["noiversion"] = (true, MountFlags.IVersion),
        ["remount"] = (false, MountFlags.Remount), ["silent"] = (false, MountFlags.Silent), ["loud"] = (true, MountFlags.Silent),
    };

    /// <summary>The recursive options (mount_setattr with AT_RECURSIVE), runtime-spec 1.1.</summary>
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> RecursiveOptions = new()
    {
        ["rro"] = (false, MountFlags.ReadOnly), ["rrw"] = (true, MountFlags.ReadOnly),
        ["rnosuid"] = (false, MountFlags.NoSuid), ["rsuid"] = (true, MountFlags.NoSuid),
        ["rnodev"] = (false, MountFlags.NoDev), ["rdev"] = (true, MountFlags.NoDev),
        ["rnoexec"] = (false, MountFlags.NoExec), ["rexec"] = (true, MountFlags.NoExec),
        ["rnodiratime"] = (false, MountFlags.NoDirAtime), ["rdiratime"] = (true, MountFlags.NoDirAtime),
        ["rnoatime"] = (false, MountFlags.NoAtime), ["ratime"] = (true, MountFlags.NoAtime),
        ["rrelatime"] = (false, MountFlags.RelAtime), ["rnorelatime"] = (true, MountFlags.RelAtime),
        ["rstrictatime"] = (false, MountFlags.StrictAtime), ["rnostrictatime"] = (true, MountFlags.StrictAtime),
        ["rnosymfollow"] = (false, MountFlags.NoSymFollow), ["rsymfollow"] = (true, MountFlags.NoSymFollow),
    };

    private static readonly Dictionary<string, ulong> PropagationOptions = new()
    {
        ["private"] = MountFlags.Private, ["rprivate"] = MountFlags.Private | MountFlags.Rec,
        ["shared"] = MountFlags.Shared, ["rshared"] = MountFlags.Shared | MountFlags.Rec,
        ["slave"] = MountFlags.Slave, ["rslave"] = MountFlags.Slave | MountFlags.Rec,
        ["unbindable"] = MountFlags.Unbindable, ["runbindable"] = MountFlags.Unbindable | MountFlags.Rec,
    };

    /// <summary>tmpcopyup: a tmpfs starts with a copy of what the directory it covers holds.</summary>
    public bool CopyUp { get; init; }

    /// <summary>"idmap" or "ridmap": the bind gets an id mapping (mount_setattr MOUNT_ATTR_IDMAP); the option itself reaches no mount call.</summary>
    public bool Idmap { get; init; }

    /// <summary>"ridmap": the id mapping covers every mount of an rbind's tree, not only its top.</summary>
    public bool RecursiveIdmap { get; init; }

    /// <summary>Options that runtimes accept and that change nothing here.</summary>
    private static readonly HashSet<string> Ignored = ["defaults", "norbind", "nocopyup", "copyup"];

    public static ParsedMountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, clear = 0, recFlags = 0, recClear = 0, propagation = 0;
        bool bind = false, recursive = false, rro = false, copyUp = false, idmap = false, ridmap = false;
        var data = new List<string>();
        foreach (var raw in options ?? [])
        {
            var o = raw.Trim();
            if (o.Length == 0 || Ignored.Contains(o)) continue;
            if (FlagOptions.TryGetValue(o, out var f)) Apply(f, ref flags, ref clear);
            else if (RecursiveOptions.TryGetValue(o, out var r))
            {
                Apply(r, ref recFlags, ref recClear);
                if (o is "rro" or "rrw") rro = o == "rro";
            }
            else if (PropagationOptions.TryGetValue(o, out var p)) propagation = p;
            else if (o == "bind") bind = true;
            else if (o is "tmpcopyup" or "notmpcopyup") copyUp = o == "tmpcopyup";
            else if (o == "rbind") { bind = true; recursive = true; }
            else if (o == "idmap") idmap = true;
            else if (o == "ridmap") { idmap = true; ridmap = true; }
            else data.Add(o);
        }
        return new ParsedMountOptions(flags, propagation, string.Join(',', data), bind, recursive, rro)
        {
            ClearFlags = clear, RecursiveFlags = recFlags, RecursiveClearFlags = recClear, CopyUp = copyUp,
            Idmap = idmap, RecursiveIdmap = ridmap,
        };
    }

    /// <summary>Set or clear one flag; the last option about a flag wins, and the atime modes exclude each other (as mount(8) treats them).</summary>
    private static void Apply((bool Clear, ulong Flag) option, ref ulong set, ref ulong clear)
    {
        if (option.Clear)
        {
            set &= ~option.Flag;
            clear |= option.Flag;
            return;
        }
        if ((option.Flag & MountFlags.AtimeModes) != 0)
        {
            set &= ~MountFlags.AtimeModes;
            clear &= ~MountFlags.AtimeModes;
        }
        set |= option.Flag;
        clear &= ~option.Flag;
    }
}
