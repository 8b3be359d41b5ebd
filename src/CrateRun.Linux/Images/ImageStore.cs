using System.Security.Cryptography;
using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Core.State;

namespace CrateRun.Linux.Images;

/// <summary>
/// Images on disk, under the state root:
/// <code>
/// images/
/// ├── .lock                 every change (load, import, tag, rmi and its garbage collection)
/// ├── index.json            references → manifest digest; per manifest: config, chain ids, size
/// ├── blobs/sha256/HEX      content-addressed: manifests, configs, layers as they came
/// ├── snapshots/CHAINID/    each layer unpacked once, in overlayfs form (whiteouts as 0:0 devices)
/// ├── snapshots/CHAINID.init/  an image's init layer: the files containers bind over that it lacks (see InitLayer)
/// ├── partial/HEX           a layer blob whose download was cut: the next pull resumes it with Range
/// ├── locks/HEX             a layer's download lock (its file is removed when released)
/// ├── leases/ID, ID.json    a pull in progress (locked while it runs): the blobs and snapshots it will reference
/// └── tmp/                  blobs being written and snapshots being unpacked
/// </code>
/// A blob is written to tmp/ (or partial/), hashed while written, and renamed into blobs/ only when its
/// digest is the one expected; a snapshot is unpacked in tmp/ and renamed when its DiffID
/// verifies. Nothing half-written is ever visible under its final name.
/// <para>
/// A pull writes its blobs and snapshots before the index names them. Its lease, written under the
/// store's lock before it looks at any layer, keeps a concurrent rmi's garbage collection (under the
/// same lock) from deleting them in between.
/// </para>
/// </summary>
public sealed class ImageStore
{
    public const string DirName = "images";
    public string Root { get; }
    public string BlobsDir => Path.Combine(Root, "blobs", "sha256");
    public string SnapshotsDir => Path.Combine(Root, "snapshots");
    public string TmpDir => Path.Combine(Root, "tmp");
    private string IndexPath => Path.Combine(Root, "index.json");

    public ImageStore(string stateRoot) => Root = Path.Combine(Path.GetFullPath(stateRoot), DirName);

    /// <summary>The store's lock: loads, tags and removals are serialised (a removal's garbage collection must not see a half-done load).</summary>
    public FileLock Lock()
    {
        Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return FileLock.Acquire(Path.Combine(Root, ".lock"), timeoutMs: 10 * 60_000);
    }

    // ---- blobs ----------------------------------------------------------------------------

    public string BlobPath(string digest) => Path.Combine(BlobsDir, ImageDocuments.Sha256Hex(digest));
    public bool HasBlob(string digest) => File.Exists(BlobPath(digest));

    public byte[] ReadBlob(string digest)
    {
        try { return File.ReadAllBytes(BlobPath(digest)); }
        catch (FileNotFoundException) { throw new CrateRunException($"blob {digest} is missing from the image store"); }
    }

    /// <summary>A temporary file in the store (same filesystem as blobs/, so a rename publishes it).</summary>
    public string NewTempPath(string kind)
    {
        Directory.CreateDirectory(TmpDir);
        return Path.Combine(TmpDir, $"{kind}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
    }

    /// <summary>Copies a stream to a temporary file while hashing it. Returns the file, its digest and size.</summary>
    public (string TempPath, string Digest, long Size) WriteTemp(Stream source)
    {
        var tmp = NewTempPath("blob");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        try
        {
            using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            var buffer = new byte[1 << 16];
            int n;
            while ((n = source.Read(buffer)) > 0)
            {
                hash.AppendData(buffer.AsSpan(0, n));
                file.Write(buffer.AsSpan(0, n));
                size += n;
            }
            file.Flush(flushToDisk: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        return (tmp, "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset()), size);
    }

    /// <summary>Publishes a temporary file as a blob when its digest is the expected one; otherwise deletes it and fails.</summary>
    public void Commit(string tempPath, string actualDigest, string expectedDigest, string what)
    {
        if (actualDigest != expectedDigest)
        {
            File.Delete(tempPath);
            throw new CrateRunException($"{what}: content has digest {actualDigest}, expected {expectedDigest}");
        }
        Directory.CreateDirectory(BlobsDir);
        File.Move(tempPath, BlobPath(expectedDigest), overwrite: true); // same content either way
    }

    public string WriteBlob(byte[] content)
    {
        var digest = ImageDocuments.Sha256(content);
        if (HasBlob(digest)) return digest;
        using var ms = new MemoryStream(content, writable: false);
        var (tmp, actual, _) = WriteTemp(ms);
        Commit(tmp, actual, digest, "blob");
        return digest;
    }

    // ---- snapshots ------------------------------------------------------------------------

    public string SnapshotPath(string chainId) => Path.Combine(SnapshotsDir, ImageDocuments.Sha256Hex(chainId));
    public bool HasSnapshot(string chainId) => Directory.Exists(SnapshotPath(chainId));

    /// <summary>
    /// Unpacks a layer blob into the snapshot for <paramref name="chainId"/> unless it exists. The
    /// uncompressed content must have <paramref name="diffId"/>; the snapshot appears under its name
    /// only once it is complete. Returns the uncompressed size.
    /// </summary>
    public long EnsureSnapshot(string chainId, string diffId, string layerBlobPath, string what)
    {
        var final = SnapshotPath(chainId);
        if (Directory.Exists(final)) return SnapshotSize(final);
        Directory.CreateDirectory(SnapshotsDir);
        var tmp = NewTempPath("snapshot");
        Directory.CreateDirectory(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            LayerUnpacker.Result result;
            using (var layer = new FileStream(layerBlobPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                result = LayerUnpacker.Unpack(layer, tmp);
            if (result.DiffId != diffId)
                throw new CrateRunException($"{what}: uncompressed content has digest {result.DiffId}, but the image config says {diffId}");
            File.WriteAllText(Path.Combine(SnapshotsDir, ImageDocuments.Sha256Hex(chainId) + ".size"), result.Size.ToString());
            MoveSnapshot(tmp, final);
            return result.Size;
        }
        catch
        {
            RemoveTree(tmp);
            File.Delete(tmp + LayerUnpacker.SpecialOwnersSuffix);
            throw;
        }
    }

    /// <summary>Renames a complete unpacked layer into place (or drops it when another pull got there first).</summary>
    public void PublishSnapshot(string tempDir, string chainId, long size)
    {
        Directory.CreateDirectory(SnapshotsDir);
        var final = SnapshotPath(chainId);
        if (Directory.Exists(final))
        {
            RemoveTree(tempDir);
            File.Delete(tempDir + LayerUnpacker.SpecialOwnersSuffix);
            return;
        }
        File.WriteAllText(Path.Combine(SnapshotsDir, ImageDocuments.Sha256Hex(chainId) + ".size"), size.ToString());
        MoveSnapshot(tempDir, final);
    }

    /// <summary>
    /// Renames an unpacked layer into place, with the list of its symlinks' and fifos' owners when
    /// there is one (rootless without a range: see <see cref="LayerUnpacker.SpecialOwnersSuffix"/>).
    /// The list first: a snapshot in place always has its list (one left alone by a kill is replaced next time).
    /// </summary>
    public static void MoveSnapshot(string unpacked, string final)
    {
        var list = unpacked + LayerUnpacker.SpecialOwnersSuffix;
        if (File.Exists(list)) File.Move(list, final + LayerUnpacker.SpecialOwnersSuffix, overwrite: true);
        Directory.Move(unpacked, final);
    }

    /// <summary>
    /// Rootless with subordinate ids: snapshots unpacked before the user had them hold their owners
    /// recorded only (every file the user's, root inside); the first container that uses one has
    /// them given (<see cref="Process.SubordinateOwners.GiveRecordedOwners"/>), under the store's
    /// lock (two runs at once, a rmi). In place: a container already running on the snapshot keeps
    /// its files; a helper killed half-way leaves what the next run finishes (the root is marked last).
    /// </summary>
    public void GiveOwnersWhereOnlyRecorded(IReadOnlyList<string> snapshots)
    {
        if (Environment.IsPrivilegedProcess || Process.SubordinateOwners.Ranges is null) return;
        if (snapshots.All(Process.SubordinateOwners.OwnersGiven)) return;
        using var _ = Lock();
        foreach (var snapshot in snapshots.Where(s => Directory.Exists(s) && !Process.SubordinateOwners.OwnersGiven(s)))
            Process.SubordinateOwners.GiveRecordedOwners(snapshot);
    }

    // ---- init layers --------------------------------------------------------------------

    /// <summary>What an init layer's directory is named after its image's top snapshot.</summary>
    public const string InitSuffix = ".init";

    /// <summary>
    /// The init layer of an image (Docker's idea): the files a container's mounts bind over
    /// (<paramref name="mountTargets"/>, relative: etc/hosts, ...) that the image lacks, empty, in
    /// directories of the image's own mode and owner. It lies above the image's layers, so that a
    /// container does not make them in its upper directory at every start: there they cost a copy-up
    /// of /etc, and at removal a directory whose block this machine's ext4 (mounted with discard)
    /// discards synchronously (issue 12). Made once per top snapshot (snapshots/CHAINID.init, in
    /// tmp/ and renamed: never seen half-made) and collected with it. Null when the image has them
    /// all, or when a parent of one is not a directory in the image (a symlinked /etc: left to the container).
    /// </summary>
    public string? InitLayer(string topChainId, IReadOnlyList<string> lowersTopFirst, IEnumerable<string> mountTargets)
    {
        var final = SnapshotPath(topChainId) + InitSuffix;
        // made before: empty when the image needs none (so that its layers are looked through once only)
        if (Directory.Exists(final)) return Directory.EnumerateFileSystemEntries(final).Any() ? final : null;
        var missing = mountTargets.Where(t => SnapshotFiles.MergedEntry(lowersTopFirst, t) is null).ToList();
        var parents = new SortedDictionary<string, Interop.Sys.Stat?>(StringComparer.Ordinal); // shallow first
        foreach (var target in missing)
        {
            for (var slash = target.IndexOf('/'); slash > 0; slash = target.IndexOf('/', slash + 1))
            {
                var dir = target[..slash];
                if (parents.ContainsKey(dir)) continue;
                var entry = SnapshotFiles.MergedEntry(lowersTopFirst, dir);
                var st = entry is null ? (Interop.Sys.Stat?)null : SnapshotFiles.Lstat(entry);
                if (st is { } s && (s.Mode & Interop.Sys.S_IFMT) != Interop.Images.S_IFDIR) missing.Clear(); // a symlinked /etc: nothing for us to add
                parents[dir] = st;
            }
        }
        if (missing.Count == 0) parents.Clear();
        var tmp = NewTempPath("init");
        try
        {
            Directory.CreateDirectory(tmp, (UnixFileMode)0b111_101_101);
            foreach (var (dir, st) in parents)
            {
                var path = Path.Combine(tmp, dir);
                Directory.CreateDirectory(path, st is { } s ? (UnixFileMode)(s.Mode & 0x1FF) : (UnixFileMode)0b111_101_101);
                if (st is { } owner)
                {
                    Interop.Check(Interop.Images.fchownat(Interop.Images.AT_FDCWD, path, owner.Uid, owner.Gid, Interop.Images.AT_SYMLINK_NOFOLLOW), "fchownat", path);
                    File.SetUnixFileMode(path, (UnixFileMode)(owner.Mode & 0xFFF)); // setuid/setgid/sticky bits too, which chown clears
                }
            }
            foreach (var target in missing)
                new FileStream(Path.Combine(tmp, target), FileMode.CreateNew, FileAccess.Write, FileShare.None, 0).Dispose();
            Directory.Move(tmp, final);
        }
        catch (IOException) when (Directory.Exists(final))
        {
            RemoveTree(tmp); // another start made it first: the same content
        }
        catch
        {
            RemoveTree(tmp);
            throw;
        }
        return missing.Count == 0 ? null : final;
    }

    private static string SnapshotOfDir(string name) => name.EndsWith(InitSuffix, StringComparison.Ordinal) ? name[..^InitSuffix.Length] : name;

    /// <summary>The unpacked size recorded for a snapshot (0 when unknown).</summary>
    public long SnapshotSizeOf(string chainId) => SnapshotSize(SnapshotPath(chainId));

    public string LocksDir => Path.Combine(Root, "locks");
    public string PartialDir => Path.Combine(Root, "partial");
    public string LeasesDir => Path.Combine(Root, "leases");

    /// <summary>A lock per layer blob: two pulls of the same layer download and unpack it once.</summary>
    public ImageLock LayerLock(string digest)
    {
        Directory.CreateDirectory(LocksDir);
        return ImageLock.Acquire(LayerLockPath(digest), timeoutMs: 60 * 60_000);
    }

    private string LayerLockPath(string digest) => Path.Combine(LocksDir, ImageDocuments.Sha256Hex(digest));

    /// <summary>Where the bytes of a cut download of this blob wait for the next pull (call under its <see cref="LayerLock"/>).</summary>
    public string PartialPath(string digest)
    {
        Directory.CreateDirectory(PartialDir);
        return Path.Combine(PartialDir, ImageDocuments.Sha256Hex(digest));
    }

    /// <summary>Partial downloads nobody resumed for this long are garbage.</summary>
    public static readonly TimeSpan PartialLifetime = TimeSpan.FromDays(1);

    /// <summary>
    /// Registers a pull in progress: the blobs and snapshots it will reference stay while the lease is
    /// held (released by Dispose, or by the kernel when the process dies). Call under <see cref="Lock"/>,
    /// before looking at what the store has.
    /// </summary>
    public IDisposable Lease(IEnumerable<string> blobDigests, IEnumerable<string> chainIds)
    {
        Directory.CreateDirectory(LeasesDir);
        var id = $"{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        var held = ImageLock.Acquire(Path.Combine(LeasesDir, id), timeoutMs: 1000);
        var list = Path.Combine(LeasesDir, id + ".json");
        try
        {
            var lines = blobDigests.Select(d => "blob " + ImageDocuments.Sha256Hex(d)).Concat(chainIds.Select(c => "snapshot " + ImageDocuments.Sha256Hex(c)));
            File.WriteAllLines(list, lines);
        }
        catch
        {
            held.Dispose();
            throw;
        }
        return new LeaseHandle(held, list);
    }

    private sealed class LeaseHandle(ImageLock held, string list) : IDisposable
    {
        public void Dispose()
        {
            try { File.Delete(list); }
            finally { held.Dispose(); }
        }
    }

    /// <summary>What the pulls in progress hold (hex digests of blobs and chain ids); drops the leases of pulls that died. Call under <see cref="Lock"/>.</summary>
    private (HashSet<string> Blobs, HashSet<string> Snapshots) LiveLeases()
    {
        var blobs = new HashSet<string>(StringComparer.Ordinal);
        var snapshots = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(LeasesDir)) return (blobs, snapshots);
        foreach (var list in Directory.EnumerateFiles(LeasesDir, "*.json"))
        {
            using (var dead = ImageLock.TryAcquire(list[..^".json".Length]))
            {
                if (dead is not null)
                {
                    File.Delete(list); // its pull is gone (killed): the lock file goes when `dead` is released
                    continue;
                }
            }
            foreach (var line in TryRead(list)?.Split('\n') ?? [])
            {
                if (line.StartsWith("blob ", StringComparison.Ordinal)) blobs.Add(line[5..]);
                else if (line.StartsWith("snapshot ", StringComparison.Ordinal)) snapshots.Add(line[9..]);
            }
        }
        // a lock without its list: a pull killed between the two (Lease writes both under the store's lock)
        foreach (var orphan in Directory.EnumerateFiles(LeasesDir).Where(f => !f.EndsWith(".json", StringComparison.Ordinal) && !File.Exists(f + ".json")))
            ImageLock.TryAcquire(orphan)?.Dispose();
        return (blobs, snapshots);
    }

    /// <summary>Removes what pulls that were killed left behind: their temporary files and their leases. Call under <see cref="Lock"/>.</summary>
    public void RemoveLeftoversOfDeadPulls()
    {
        RemoveDeadTemps();
        LiveLeases();
    }

    /// <summary>Removes what processes that are gone left in tmp/ (a pull killed while it unpacked).</summary>
    private void RemoveDeadTemps()
    {
        if (!Directory.Exists(TmpDir)) return;
        foreach (var t in Directory.EnumerateFileSystemEntries(TmpDir))
        {
            var parts = Path.GetFileName(t).Split('-');
            if (parts.Length == 3 && int.TryParse(parts[1], out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                if (Directory.Exists(t)) RemoveTree(t);
                else File.Delete(t);
            }
        }
    }

    private static long SnapshotSize(string snapshot) =>
        long.TryParse(TryRead(snapshot + ".size"), out var size) ? size : 0;

    private static string? TryRead(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
    }

    /// <summary>Removes a tree that holds no mounts (snapshots and temporary dirs never do).</summary>
    private static void RemoveTree(string path)
    {
        if (Directory.Exists(path)) ContainerStore.DeleteTree(path); // rootless: a 0555 directory of a layer is made writable first
    }

    // ---- the index ------------------------------------------------------------------------

    public ImageStoreIndex LoadIndex()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(IndexPath); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return new ImageStoreIndex(); }
        return ImageDocuments.ReadStoreIndex(bytes, IndexPath);
    }

    /// <summary>Writes the index atomically (temp file + rename). Call under <see cref="Lock"/>.</summary>
    public void SaveIndex(ImageStoreIndex index) =>
        ContainerStore.WriteAtomic(IndexPath, ImageDocuments.Write(index, ImageJsonContext.Default.ImageStoreIndex));

    /// <summary>
    /// An image by reference (busybox, busybox:1.36, name@sha256:...), by id (the config digest,
    /// or a unique prefix of its hex of 3+ characters, with or without sha256:) or by manifest digest.
    /// </summary>
    public static (string ManifestDigest, StoredImage Image)? Find(ImageStoreIndex index, string text)
    {
        if (text.Length == 0) return null;
        var hexPart = text.StartsWith("sha256:", StringComparison.Ordinal) ? text[7..] : text;
        if (hexPart.Length >= 3 && hexPart.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            var byId = index.Images.Where(kv => kv.Value.Config[7..].StartsWith(hexPart, StringComparison.Ordinal)
                || (text.StartsWith("sha256:", StringComparison.Ordinal) && kv.Key == text)).ToList();
            if (byId.Select(kv => kv.Value.Config).Distinct().Count() > 1)
                throw new CrateRunException($"ambiguous image id '{text}': matches {string.Join(", ", byId.Select(kv => kv.Value.Config[7..19]).Distinct())}");
            if (byId.Count > 0 && (text.StartsWith("sha256:", StringComparison.Ordinal) || !ImageReference.TryParse(text, out var r) || !index.Refs.ContainsKey(r!.ToString())))
                return (byId[0].Key, byId[0].Value);
        }
        var reference = ImageReference.Parse(text);
        if (index.Refs.TryGetValue(reference.ToString(), out var manifest) && index.Images.TryGetValue(manifest, out var image))
            return (manifest, image);
        if (reference.Digest is { } d && index.Images.TryGetValue(d, out var byDigest) &&
            index.Refs.Any(kv => kv.Value == d && ImageReference.ParseNormalized(kv.Key).Name == reference.Name))
            return (d, byDigest);
        return null;
    }

    public static (string ManifestDigest, StoredImage Image) Get(ImageStoreIndex index, string text) =>
        Find(index, text) ?? throw new CrateRunException($"no such image: {text}");

    public ImageConfig ReadConfig(StoredImage image) => ImageDocuments.ReadConfig(ReadBlob(image.Config), $"image config {image.Config}");

    /// <summary>
    /// Removes every blob and snapshot no image needs and no container uses (<paramref name="inUse"/>:
    /// the chain ids of existing containers), and leftovers in tmp/ of processes that are gone. Call under <see cref="Lock"/>.
    /// </summary>
    public void CollectGarbage(ImageStoreIndex index, IEnumerable<string> inUse)
    {
        // what pulls in progress will reference is not garbage, though no image names it yet
        var (blobs, snapshots) = LiveLeases();
        snapshots.UnionWith(inUse.Select(c => ImageDocuments.Sha256Hex(c)));
        foreach (var (manifestDigest, image) in index.Images)
        {
            blobs.Add(ImageDocuments.Sha256Hex(manifestDigest));
            blobs.Add(ImageDocuments.Sha256Hex(image.Config));
            if (HasBlob(manifestDigest))
                foreach (var layer in ImageDocuments.ReadManifest(ReadBlob(manifestDigest), manifestDigest).Layers)
                    blobs.Add(ImageDocuments.Sha256Hex(layer.Digest));
            foreach (var c in image.ChainIds) snapshots.Add(ImageDocuments.Sha256Hex(c));
        }
        if (Directory.Exists(BlobsDir))
            foreach (var f in Directory.EnumerateFiles(BlobsDir).Where(f => !blobs.Contains(Path.GetFileName(f))))
                File.Delete(f);
        if (Directory.Exists(SnapshotsDir))
        {
            // an init layer (CHAINID.init) goes with its snapshot
            foreach (var d in Directory.EnumerateDirectories(SnapshotsDir).Where(d => !snapshots.Contains(SnapshotOfDir(Path.GetFileName(d)))))
            {
                File.Delete(d + ".size");
                File.Delete(d + LayerUnpacker.SpecialOwnersSuffix);
                RemoveTree(d);
            }
        }
        RemoveDeadTemps();
        if (Directory.Exists(PartialDir))
        {
            foreach (var partial in Directory.EnumerateFiles(PartialDir))
            {
                var hex = Path.GetFileName(partial);
                if (!File.Exists(Path.Combine(BlobsDir, hex)) && File.GetLastWriteTimeUtc(partial) > DateTime.UtcNow - PartialLifetime) continue;
                Directory.CreateDirectory(LocksDir);
                using var free = ImageLock.TryAcquire(Path.Combine(LocksDir, hex));
                if (free is not null) File.Delete(partial); // not being resumed right now
            }
        }
    }
}
