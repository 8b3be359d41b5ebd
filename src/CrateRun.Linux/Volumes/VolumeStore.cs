using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.State;
using CrateRun.Core.Volumes;

namespace CrateRun.Linux.Volumes;

/// <summary>
/// Named volumes, Docker's local driver: <c>ROOT/volumes/NAME/_data</c> is the directory bound into
/// containers, <c>ROOT/volumes/NAME/volume.json</c> its name, creation time and labels. A volume is
/// published by renaming a complete temporary directory into place, and removed by renaming it aside
/// first, so a half-made or half-removed one is never listed. Creation and removal happen under the
/// state root's lock, the one container registration holds: a volume cannot be removed between a
/// container's check and its registration.
/// </summary>
public sealed class VolumeStore(ContainerStore containers)
{
    public const string DirName = "volumes", DataDirName = "_data", InfoFile = "volume.json";

    public string Dir => Path.Combine(containers.Root, DirName);

    /// <summary>The directory a container mounts (Docker's Mountpoint).</summary>
    public string DataDir(string name) => Path.Combine(Dir, name, DataDirName);

    /// <summary>The volume, or null when there is none of that name.</summary>
    public VolumeInfo? TryGet(string name)
    {
        if (!VolumeNames.IsValid(name)) return null;
        var file = Path.Combine(Dir, name, InfoFile);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        VolumeInfo info;
        try { info = JsonSerializer.Deserialize(bytes, VolumeJsonContext.Default.VolumeInfo) ?? new VolumeInfo(); }
        catch (JsonException e) { throw new CrateRunException($"volume {name}: corrupt {InfoFile}: {e.Message}"); }
        info.Name = name;
        info.Mountpoint = DataDir(name);
        return info;
    }

    /// <summary>Docker's error for an unknown volume.</summary>
    public VolumeInfo Get(string name) => TryGet(name) ?? throw new CrateRunException($"no such volume: {name}");

    /// <summary>Every volume, by name.</summary>
    public List<VolumeInfo> List()
    {
        if (!Directory.Exists(Dir)) return [];
        return [.. Directory.EnumerateDirectories(Dir).Select(Path.GetFileName).OfType<string>()
            .Where(VolumeNames.IsValid).Order(StringComparer.Ordinal).Select(TryGet).OfType<VolumeInfo>()];
    }

    /// <summary>
    /// volume create: a new volume, or the existing one of that name (Docker's create is idempotent).
    /// A null name is generated.
    /// </summary>
    public VolumeInfo Create(string? name, IReadOnlyDictionary<string, string> labels)
    {
        name ??= VolumeNames.Generate();
        if (!VolumeNames.IsValid(name)) throw VolumeNames.Invalid(name, "volume name");
        using var _ = containers.LockRoot();
        return EnsureLocked(name, labels);
    }

    /// <summary>
    /// The volumes a container being registered mounts (<see cref="VolumeNames.VolumesAnnotation"/>), made
    /// when missing (anonymous ones with Docker's label). The caller holds the state root's lock.
    /// </summary>
    public void EnsureForContainer(IReadOnlyDictionary<string, string>? annotations)
    {
        var anonymous = VolumeNames.AnonymousOf(annotations);
        foreach (var name in VolumeNames.UsedBy(annotations))
        {
            var labels = anonymous.Contains(name) ? new Dictionary<string, string> { [VolumeNames.AnonymousLabel] = "" } : [];
            EnsureLocked(name, labels);
        }
    }

    private VolumeInfo EnsureLocked(string name, IReadOnlyDictionary<string, string> labels)
    {
        if (TryGet(name) is { } existing) return existing;
        try
        {
            Directory.CreateDirectory(Dir);
            // 0701, as Docker's volumes directory: containers' users reach _data through their mounts, others cannot list names
            File.SetUnixFileMode(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute);
            var temp = Path.Combine(Dir, $".new-{name}-{Environment.ProcessId}");
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(Path.Combine(temp, DataDirName));
            File.SetUnixFileMode(Path.Combine(temp, DataDirName), (UnixFileMode)0x1ED /* 0755 */);
            var info = new VolumeInfo { Name = name, CreatedAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), Labels = new(labels) };
            File.WriteAllBytes(Path.Combine(temp, InfoFile), JsonSerializer.SerializeToUtf8Bytes(info, VolumeJsonContext.Default.VolumeInfo));
            Directory.Move(temp, Path.Combine(Dir, name));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw containers.Unusable(e);
        }
        return Get(name);
    }

    /// <summary>The containers (any status) whose volumes include <paramref name="name"/>.</summary>
    public static List<string> UsersOf(string name, IEnumerable<ContainerRecord> all) =>
        [.. all.Where(r => VolumeNames.UsedBy(r.Annotations).Contains(name)).Select(r => r.Id)];

    /// <summary>
    /// volume rm: refused while a container (even a stopped one) uses it, with Docker's words.
    /// <paramref name="missingOk"/> (-f): an unknown volume is no error.
    /// </summary>
    public bool Remove(string name, bool missingOk)
    {
        using var _ = containers.LockRoot();
        if (TryGet(name) is null)
            return missingOk ? false : throw new CrateRunException($"no such volume: {name}");
        if (UsersOf(name, containers.List()) is { Count: > 0 } users)
            throw new CrateRunException($"remove {name}: volume is in use - [{string.Join(", ", users)}]");
        RemoveLocked(name);
        return true;
    }

    /// <summary>
    /// volume prune: every volume no container uses and <paramref name="selected"/> accepts; returns
    /// their names and the bytes freed.
    /// </summary>
    public (List<string> Names, long Bytes) Prune(Func<VolumeInfo, bool> selected)
    {
        using var _ = containers.LockRoot();
        var used = containers.List().SelectMany(r => VolumeNames.UsedBy(r.Annotations)).ToHashSet();
        var removed = new List<string>();
        long bytes = 0;
        foreach (var v in List().Where(v => !used.Contains(v.Name) && selected(v)))
        {
            bytes += SizeOf(DataDir(v.Name));
            RemoveLocked(v.Name);
            removed.Add(v.Name);
        }
        return (removed, bytes);
    }

    /// <summary>
    /// After a container is removed with rm -v or --rm: its anonymous volumes go, unless another
    /// container still uses one. Named volumes stay, as Docker's.
    /// </summary>
    public void RemoveAnonymous(IReadOnlyDictionary<string, string>? annotations)
    {
        var anonymous = VolumeNames.AnonymousOf(annotations);
        if (anonymous.Count == 0) return;
        using var _ = containers.LockRoot();
        var all = containers.List();
        foreach (var name in anonymous)
        {
            if (TryGet(name) is { Anonymous: true } && UsersOf(name, all).Count == 0) RemoveLocked(name);
        }
    }

    /// <summary>Whether a volume holds nothing yet (Docker copies the image's content into it only then).</summary>
    public bool IsEmpty(string name) => !Directory.EnumerateFileSystemEntries(DataDir(name)).Any();

    private void RemoveLocked(string name)
    {
        try
        {
            // renamed aside first: a removal cut short leaves a hidden directory, never a broken volume
            var aside = Path.Combine(Dir, $".removing-{name}-{Environment.ProcessId}");
            Directory.Move(Path.Combine(Dir, name), aside);
            Directory.Delete(aside, recursive: true); // symlinks inside are removed, never followed
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CrateRunException($"cannot remove volume {name}: {e.Message}");
        }
    }

    /// <summary>The bytes of the regular files below <paramref name="dir"/> (symlinks not followed).</summary>
    public static long SizeOf(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        return new DirectoryInfo(dir).EnumerateFiles("*", options).Sum(f => f.Length);
    }
}
