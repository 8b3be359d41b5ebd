using System.Text.Json;

namespace CrateRun.Core.State;

/// <summary>
/// Containers on disk: ROOT/ID/{metadata.json, config.json, stdout.log, stderr.log, lock}.
/// Every write is atomic (temp file + rename); read-modify-write goes under the
/// container's lock, creation and name checks under the root's lock.
/// </summary>
public sealed class ContainerStore(string root)
{
    public const string MetadataFile = "metadata.json";
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>/var/lib/craterun for root, ~/.craterun otherwise; CRATERUN_ROOT or --root override.</summary>
    public static string DefaultRoot(bool isRoot)
    {
        var env = Environment.GetEnvironmentVariable("CRATERUN_ROOT");
        if (!string.IsNullOrEmpty(env)) return env;
        return isRoot ? "/var/lib/craterun"
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/tmp", ".craterun");
    }

    public string Dir(string id) => Path.Combine(Root, id);
    public string PathOf(string id, string file) => Path.Combine(Root, id, file);

    public bool Exists(string id) => File.Exists(PathOf(id, MetadataFile));

    /// <summary>Makes the container's directory; fails if the id is taken.</summary>
    public string CreateDir(string id)
    {
        Directory.CreateDirectory(Root);
        var dir = Dir(id);
        if (Directory.Exists(dir)) throw new CrateRunException($"container {id} already exists");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    public void Save(ContainerRecord r) => WriteAtomic(PathOf(r.Id, MetadataFile),
        JsonSerializer.SerializeToUtf8Bytes(r, StateJsonWriteContext.Default.ContainerRecord));

    public static void WriteAtomic(string path, byte[] content)
    {
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(tmp, content);
        File.Move(tmp, path, overwrite: true);
    }

    public ContainerRecord? TryLoad(string id)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(PathOf(id, MetadataFile)), StateJsonContext.Default.ContainerRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (JsonException e) { throw new CrateRunException($"container {id}: corrupt {MetadataFile}: {e.Message}"); }
    }

    public ContainerRecord Load(string id) => TryLoad(id) ?? throw new NoSuchContainerException(id);

    /// <summary>Every container, oldest first. Half-created ones (no metadata yet) are skipped.</summary>
    public List<ContainerRecord> List()
    {
        if (!Directory.Exists(Root)) return [];
        var list = new List<ContainerRecord>();
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            // runc accepts ids starting with '.'; our own entries (.lock, .images) have no metadata and are skipped
            if (TryLoad(System.IO.Path.GetFileName(dir)) is { } r) list.Add(r);
        }
        list.Sort((a, b) => a.Created.CompareTo(b.Created));
        return list;
    }

    /// <summary>
    /// A full id, a unique id prefix or a name. An ambiguous prefix is an error that lists the matches.
    /// </summary>
    public string Resolve(string idOrName)
    {
        if (string.IsNullOrEmpty(idOrName)) throw new UsageException("a container id or name is required");
        if (ContainerId.IsValidName(idOrName) && Exists(idOrName)) return idOrName;
        var all = List();
        var byName = all.Where(r => r.Name == idOrName).ToList();
        if (byName.Count == 1) return byName[0].Id;
        var matches = all.Where(r => r.Id.StartsWith(idOrName, StringComparison.Ordinal)).Select(r => r.Id).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CrateRunException($"no such container: {idOrName}"),
            _ => throw new CrateRunException($"ambiguous container id '{idOrName}': matches {string.Join(", ", matches)}"),
        };
    }

    /// <summary>Removes the directory of a container (it holds no mounts: those live in the container's namespace).</summary>
    public void RemoveDir(string id)
    {
        var dir = Dir(id);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>The root-wide lock: creation, name uniqueness.</summary>
    public FileLock LockRoot()
    {
        Directory.CreateDirectory(Root);
        return FileLock.Acquire(Path.Combine(Root, ".lock"));
    }

    /// <summary>A container's lock, or null when the container is gone.</summary>
    public FileLock? TryLock(string id)
    {
        try { return FileLock.Acquire(PathOf(id, "lock")); }
        catch (DirectoryNotFoundException) { return null; }
    }

    public FileLock Lock(string id) => TryLock(id) ?? throw new NoSuchContainerException(id);
}

/// <summary>An exclusive advisory lock on a file (flock under the hood), held until disposed.</summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream _stream;
    private FileLock(FileStream s) => _stream = s;

    public static FileLock Acquire(string path, int timeoutMs = 60_000)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        var delay = 1;
        while (true)
        {
            try
            {
                return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 20);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
