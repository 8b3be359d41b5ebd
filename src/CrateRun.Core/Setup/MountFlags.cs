namespace CrateRun.Core.Setup;

/// <summary>The kernel's MS_* mount flags (linux/mount.h).</summary>
public static class MountFlags
{
    public const ulong ReadOnly = 1, NoSuid = 2, NoDev = 4, NoExec = 8, Synchronous = 16, Remount = 32,
        MandLock = 64, DirSync = 128, NoAtime = 1024, NoDirAtime = 2048, Bind = 4096, Move = 8192,
        Rec = 16384, Silent = 32768, Unbindable = 1 << 17, Private = 1 << 18, Slave = 1 << 19,
        Shared = 1 << 20, RelAtime = 1 << 21, StrictAtime = 1 << 24;
}

/// <summary>An OCI mount's "options" list, sorted into flags, propagation and fs data.</summary>
public sealed record ParsedMountOptions(ulong Flags, ulong Propagation, string Data, bool Bind, bool Recursive, bool RecursiveReadonly)
{
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
        ["remount"] = (false, MountFlags.Remount), ["silent"] = (false, MountFlags.Silent), ["loud"] = (true, MountFlags.Silent),
    };

    private static readonly Dictionary<string, ulong> PropagationOptions = new()
    {
        ["private"] = MountFlags.Private, ["rprivate"] = MountFlags.Private | MountFlags.Rec,
        ["shared"] = MountFlags.Shared, ["rshared"] = MountFlags.Shared | MountFlags.Rec,
        ["slave"] = MountFlags.Slave, ["rslave"] = MountFlags.Slave | MountFlags.Rec,
        ["unbindable"] = MountFlags.Unbindable, ["runbindable"] = MountFlags.Unbindable | MountFlags.Rec,
    };

    /// <summary>Options that runtimes accept and that change nothing here.</summary>
    private static readonly HashSet<string> Ignored = ["tmpcopyup", "defaults", "norbind", "nocopyup", "copyup", "notmpcopyup"];

    public static ParsedMountOptions Parse(IEnumerable<string>? options)
    {
        ulong flags = 0, propagation = 0;
        bool bind = false, recursive = false, rro = false;
        var data = new List<string>();
        foreach (var raw in options ?? [])
        {
            var o = raw.Trim();
            if (o.Length == 0 || Ignored.Contains(o)) continue;
            if (FlagOptions.TryGetValue(o, out var f))
            {
                flags = f.Clear ? flags & ~f.Flag : flags | f.Flag;
                // the atime options exclude each other, as mount(8) treats them
                if (!f.Clear && (f.Flag & (MountFlags.NoAtime | MountFlags.RelAtime | MountFlags.StrictAtime)) != 0)
                    flags = (flags & ~(MountFlags.NoAtime | MountFlags.RelAtime | MountFlags.StrictAtime)) | f.Flag;
            }
            else if (PropagationOptions.TryGetValue(o, out var p)) propagation = p;
            else if (o == "bind") bind = true;
            else if (o == "rbind") { bind = true; recursive = true; }
            else if (o == "rro") { rro = true; flags |= MountFlags.ReadOnly; }
            else if (o is "idmap" or "ridmap")
                throw new UsageException($"mount option '{o}' (idmapped mounts) is not supported yet");
            else data.Add(o);
        }
        return new ParsedMountOptions(flags, propagation, string.Join(',', data), bind, recursive, rro);
    }
}
