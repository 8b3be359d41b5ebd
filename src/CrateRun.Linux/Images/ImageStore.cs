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
/// └── tmp/                  blobs being written and snapshots being unpacked
/// </code>
/// A blob is written to tmp/, hashed while written, and renamed into blobs/ only when its
/// digest is the one expected; a snapshot is unpacked in tmp/ and renamed when its DiffID
/// verifies. Nothing half-written is ever visible under its final name.
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
            Directory.Move(tmp, final);
            return result.Size;
        }
        catch
        {
            RemoveTree(tmp);
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
            return;
        }
        File.WriteAllText(Path.Combine(SnapshotsDir, ImageDocuments.Sha256Hex(chainId) + ".size"), size.ToString());
        Directory.Move(tempDir, final);
    }

    /// <summary>The unpacked size recorded for a snapshot (0 when unknown).</summary>
    public long SnapshotSizeOf(string chainId) => SnapshotSize(SnapshotPath(chainId));

    /// <summary>A lock per layer blob: two pulls of the same layer download and unpack it once.</summary>
    public FileLock LayerLock(string digest)
    {
        var dir = Path.Combine(Root, "locks");
        Directory.CreateDirectory(dir);
        return FileLock.Acquire(Path.Combine(dir, ImageDocuments.Sha256Hex(digest)), timeoutMs: 60 * 60_000);
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
        return ImageDocuments.Read(bytes, ImageJsonContext.Default.ImageStoreIndex, IndexPath);
    }

    /// <summary>Writes the index atomically (temp file + rename). Call under <see cref="Lock"/>.</summary>
    public void SaveIndex(ImageStoreIndex index) =>
        ContainerStore.WriteAtomic(IndexPath, ImageDocuments.Write(index, ImageJsonContext.Default.ImageStoreIndex));

    /// <summary>
    /// An image by reference (busybox, busybox:1.36, name@sha256:...), by id (the config digest,
    /// or a unique prefix of its hex of 3+ characters, with or without sha256:) or by manifest digest.
    /// </summary>
    public (string ManifestDigest, StoredImage Image)? Find(ImageStoreIndex index, string text)
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

    public (string ManifestDigest, StoredImage Image) Get(ImageStoreIndex index, string text) =>
        Find(index, text) ?? throw new CrateRunException($"no such image: {text}");

    public ImageConfig ReadConfig(StoredImage image) => ImageDocuments.ReadConfig(ReadBlob(image.Config), $"image config {image.Config}");

    /// <summary>
    /// Removes every blob and snapshot no image needs and no container uses (<paramref name="inUse"/>:
    /// the chain ids of existing containers), and leftovers in tmp/ of processes that are gone. Call under <see cref="Lock"/>.
    /// </summary>
    public void CollectGarbage(ImageStoreIndex index, IEnumerable<string> inUse)
    {
        var blobs = new HashSet<string>(StringComparer.Ordinal);
        var snapshots = new HashSet<string>(inUse.Select(c => ImageDocuments.Sha256Hex(c)), StringComparer.Ordinal);
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
            foreach (var d in Directory.EnumerateDirectories(SnapshotsDir).Where(d => !snapshots.Contains(Path.GetFileName(d))))
            {
                File.Delete(d + ".size");
                RemoveTree(d);
            }
        }
        if (Directory.Exists(TmpDir))
        {
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
    }
}
