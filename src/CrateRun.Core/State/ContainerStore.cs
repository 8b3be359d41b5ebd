using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace CrateRun.Core.State;

/// <summary>
/// Containers on disk: ROOT/ID/{metadata.json, config.json, stdout.log, stderr.log, lock}.
/// Every write is atomic (a new temp file, swapped in or renamed: <see cref="WriteAtomic"/>); read-modify-write goes under the
/// container's lock, creation and name checks under the root's lock.
/// </summary>
public sealed class ContainerStore(string root)
{
    public const string MetadataFile = "metadata.json";
    public string Root { get; } = root.Length > 0 ? Path.GetFullPath(root) : throw new UsageException("the state root (--root, CRATERUN_ROOT) must not be empty");

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
        StateJsonWriteContext.SerializeRecord(r));

    /// <summary>
    /// Replaces the file at <paramref name="path"/> with <paramref name="content"/> in one step: a
    /// reader sees the old file or the new one, never a part. The new content goes to a new file
    /// first (<see cref="WriteNew"/>); replacing an existing file swaps the two names
    /// (<see cref="ExchangeFiles"/>) and deletes the old one, else renames over it.
    /// </summary>
    /// <remarks>
    /// Why not a rename over the old file: ext4 writes the new file's blocks out at once when a
    /// rename replaces a file (auto_da_alloc), and the next save frees them again. A metadata.json
    /// written four times in a run cost some 0.15 ms a save that way on this disk, where every freed
    /// block is discarded before unlink returns; swapped, a file that lives less than the writeback
    /// delay is never given blocks at all.
    /// </remarks>
    public static void WriteAtomic(string path, byte[] content)
    {
        var tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            WriteNew(tmp, content);
            // File.Exists: a regular file (a directory in its place must fail, as a rename onto it does)
            if (ExchangeFiles is { } exchange && File.Exists(path) && exchange(tmp, path)) File.Delete(tmp); // tmp now holds the old content
            else File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e)
        {
            // a full disk must not leave a half-written temp file behind (ps cannot show it, rm could not find it)
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException { HResult: NoSpace or QuotaExceeded } && File.Exists(path))
            {
                OverwriteInPlace(path, content);
                return;
            }
            throw;
        }
    }

    /// <summary>
    /// Set by the Linux layer: swaps two existing files' names in one step (renameat2 with
    /// RENAME_EXCHANGE). False when it cannot (no such file, a filesystem without it): the caller renames.
    /// </summary>
    public static Func<string, string, bool>? ExchangeFiles { get; set; }

    /// <summary>
    /// <paramref name="content"/> as a new file at <paramref name="path"/> (a file already there, such as a
    /// crashed process's temp file, is removed first). Created, never truncated: ext4 writes out at close a
    /// file that was truncated (File.WriteAllBytes opens, then truncates), which a file this young and this
    /// short-lived does not need.
    /// </summary>
    public static void WriteNew(string path, ReadOnlySpan<byte> content)
    {
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite); }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(path);
            handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite);
        }
        using (handle) RandomAccess.Write(handle, content, 0);
    }

    private const int NoSpace = 28, QuotaExceeded = 122; // ENOSPC, EDQUOT: .NET's IOException carries the errno

    /// <summary>
    /// A full disk has no room for a temp file, but a record rewritten over its own blocks needs
    /// none (the exit record is no longer than the running one: it drops the cgroup paths).
    /// Not atomic; the alternative is a container shown running forever.
    /// </summary>
    private static void OverwriteInPlace(string path, byte[] content)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        f.Write(content);
        f.SetLength(content.Length);
        f.Flush(flushToDisk: false);
    }

    public ContainerRecord? TryLoad(string id)
    {
        try
        {
            return ContainerRecordReader.Read(ReadMetadata(PathOf(id, MetadataFile)));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        catch (JsonException e) { throw new CrateRunException($"container {id}: corrupt {MetadataFile}: {e.Message}"); }
    }

    [ThreadStatic] private static byte[]? _readBuffer;

    /// <summary>
    /// The file's bytes, in a buffer of this thread's that the next call reuses (the record is
    /// parsed before then). `ps` loads every record: File.ReadAllBytes asks the size (fstat), reads
    /// until a read returns nothing and allocates an array per record; a read that returns less
    /// than asked is the end of a regular file, so one pread usually does.
    /// </summary>
    private static ReadOnlySpan<byte> ReadMetadata(string path)
    {
        var buffer = _readBuffer ??= new byte[16 * 1024];
        using var handle = File.OpenHandle(path);
        var length = 0;
        while (true)
        {
            if (length == buffer.Length) _readBuffer = buffer = Grown(buffer); // a very long command, many labels
            var asked = buffer.Length - length;
            var n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
            length += n;
            if (n < asked) return buffer.AsSpan(0, length); // a short read: the end of a regular file
        }
    }

    private static byte[] Grown(byte[] buffer)
    {
        Array.Resize(ref buffer, buffer.Length * 2);
        return buffer;
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

    /// <summary>
    /// A directory left by a creation that failed before its metadata was written (a full disk,
    /// a killed CLI): ps cannot show it, so rm takes its full id. Checked under the root lock,
    /// so a creation in progress is never mistaken for one.
    /// </summary>
    public bool IsLeftover(string id)
    {
        if (!ContainerId.IsFullId(id) || !Directory.Exists(Dir(id))) return false;
        using var _ = LockRoot();
        return Directory.Exists(Dir(id)) && !Exists(id);
    }

    /// <summary>Removes the directory of a container (it holds no mounts: those live in the container's namespace).</summary>
    public void RemoveDir(string id)
    {
        var dir = Dir(id);
        if (Directory.Exists(dir)) DeleteTree(dir);
    }

    /// <summary>
    /// Deletes a tree that holds no mounts. Without root, a directory of the user's own that it
    /// may not write or enter (overlayfs makes work/work mode 0; image layers, and the directories
    /// an overlay copied up from them, are 0555) is first given back u+rwx, which its owner may
    /// always do. .NET reports a refused unlink as UnauthorizedAccessException and a refused
    /// rmdir (a directory inside such a one) as IOException: both lead there.
    /// </summary>
    public static void DeleteTree(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException && !Environment.IsPrivilegedProcess && Directory.Exists(dir))
        {
            try
            {
                MakeOwnDirectoriesWritable(dir);
                Directory.Delete(dir, recursive: true);
            }
            catch (Exception again) when (again is UnauthorizedAccessException or IOException && DeleteTreeOfSubordinateOwners is { } delete)
            {
                delete(dir); // files of the user's subordinate ids (written by a container as another user)
            }
        }
    }

    /// <summary>
    /// Rootless with subordinate ids: deletes a tree holding files of the user's range, which the
    /// user alone may not (set by the Linux layer: a helper in a user namespace with that range).
    /// </summary>
    public static Action<string>? DeleteTreeOfSubordinateOwners { get; set; }

    private static void MakeOwnDirectoriesWritable(string dir)
    {
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        var info = new DirectoryInfo(dir);
        if (info.LinkTarget is not null || !info.Exists) return;
        if ((info.UnixFileMode & owner) != owner) info.UnixFileMode |= owner;
        foreach (var sub in info.EnumerateDirectories())
            if (sub.LinkTarget is null) MakeOwnDirectoriesWritable(sub.FullName);
    }

    /// <summary>
    /// The root-wide lock: creation, name uniqueness. A root that cannot hold it (read-only,
    /// immutable, a file, no space) fails here at once, with one line naming the root.
    /// </summary>
    public FileLock LockRoot()
    {
        try
        {
            if (File.Exists(Root)) throw new CrateRunException($"cannot use the state root {Root}: it is a file, not a directory");
            Directory.CreateDirectory(Root);
            return FileLock.Acquire(Path.Combine(Root, ".lock"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable(e);
        }
    }

    /// <summary>An I/O failure of the state root as one line that names the root.</summary>
    public CrateRunException Unusable(Exception e) =>
        new($"cannot use the state root {Root}: {e.Message}", ExitCodes.RuntimeError, e);

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

    /// <summary>EWOULDBLOCK (= EAGAIN on Linux): .NET's FileStream reports a lock held by another open file description with it.</summary>
    private const int LockHeld = 11;

    /// <summary>Waits while someone else holds the lock; any other failure (EROFS, EPERM, ENOSPC...) is thrown at once.</summary>
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
            catch (IOException e) when (e.HResult == LockHeld && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 20);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
