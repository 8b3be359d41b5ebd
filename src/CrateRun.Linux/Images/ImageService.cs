using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Core.State;

namespace CrateRun.Linux.Images;

/// <summary>One line of `craterun images`.</summary>
public sealed record ImageListing(string Repository, string Tag, string Id, DateTimeOffset? Created, long Size);

/// <summary>The image commands on top of the store: list, tag, remove (with garbage collection), inspect, and files of an image.</summary>
public sealed class ImageService(string stateRoot)
{
    public ImageStore Store { get; } = new(stateRoot);

    public List<ImageListing> List()
    {
        var index = Store.LoadIndex();
        var rows = new List<ImageListing>();
        foreach (var (manifest, image) in index.Images)
        {
            var refs = index.Refs.Where(kv => kv.Value == manifest).Select(kv => ImageReference.ParseNormalized(kv.Key)).ToList();
            if (refs.Count == 0) rows.Add(new ImageListing("<none>", "<none>", image.Config, image.Created, image.Size));
            foreach (var r in refs) rows.Add(new ImageListing(r.FamiliarName, r.Tag ?? "<none>", image.Config, image.Created, image.Size));
        }
        return [.. rows.OrderByDescending(r => r.Created ?? DateTimeOffset.MinValue).ThenBy(r => r.Repository, StringComparer.Ordinal).ThenBy(r => r.Tag, StringComparer.Ordinal)];
    }

    public void Tag(string source, string target)
    {
        var reference = ImageReference.Parse(target);
        if (reference.Digest is not null) throw new UsageException($"invalid tag '{target}': a tag cannot have a digest");
        using var _ = Store.Lock();
        var index = Store.LoadIndex();
        var (manifest, _) = ImageStore.Get(index, source);
        index.Refs[reference.ToString()] = manifest;
        Store.SaveIndex(index);
    }

    /// <summary>
    /// `rmi`: a reference is untagged; the image goes when nothing names it any more (or when it
    /// was named by id). Refused while a container uses it, unless forced; the layers a container
    /// still uses stay until it is removed. Returns the lines Docker prints (Untagged:, Deleted:).
    /// </summary>
    public List<string> Remove(string text, bool force)
    {
        using var _ = Store.Lock();
        var index = Store.LoadIndex();
        var (manifest, image) = ImageStore.Get(index, text);
        var refs = index.Refs.Where(kv => kv.Value == manifest).Select(kv => kv.Key).ToList();
        var lines = new List<string>();
        var byReference = ImageReference.TryParse(text, out var parsed) && index.Refs.ContainsKey(parsed!.ToString());
        var users = ContainersUsing(image);
        if (byReference && refs.Count > 1)
        {
            // other names remain: only this one goes
            index.Refs.Remove(parsed!.ToString());
            Store.SaveIndex(index);
            return [$"Untagged: {parsed.FamiliarString}"];
        }
        if (!byReference && refs.Count > 1 && !force)
            throw new CrateRunException($"unable to delete {image.Config[7..19]} (must be forced): the image is referenced by {refs.Count} names ({string.Join(", ", refs.Select(r => ImageReference.ParseNormalized(r).FamiliarString))})");
        if (users.Count > 0 && !force)
            throw new CrateRunException($"unable to remove image {text}: container {users[0]} uses it (remove the container, or rmi -f)");
        foreach (var r in refs)
        {
            index.Refs.Remove(r);
            lines.Add($"Untagged: {ImageReference.ParseNormalized(r).FamiliarString}");
        }
        index.Images.Remove(manifest);
        Store.SaveIndex(index);
        lines.Add($"Deleted: {image.Config}");
        Store.CollectGarbage(index, AllContainerSnapshots());
        return lines;
    }

    /// <summary>
    /// `image prune`: removes the images no name refers to (dangling), or with <paramref name="all"/>
    /// every image no container uses; then the blobs and snapshots nothing needs. Returns the ids removed.
    /// </summary>
    public List<string> Prune(bool all)
    {
        using var _ = Store.Lock();
        var index = Store.LoadIndex();
        var removed = new List<string>();
        foreach (var (manifest, image) in index.Images.ToList())
        {
            var named = index.Refs.ContainsValue(manifest);
            if ((named && !all) || ContainersUsing(image).Count > 0) continue;
            foreach (var r in index.Refs.Where(kv => kv.Value == manifest).Select(kv => kv.Key).ToList()) index.Refs.Remove(r);
            index.Images.Remove(manifest);
            removed.Add(image.Config);
        }
        Store.SaveIndex(index);
        Store.CollectGarbage(index, AllContainerSnapshots());
        return removed;
    }

    /// <summary>Containers (any state) whose root is made of this image's snapshots.</summary>
    private List<string> ContainersUsing(StoredImage image)
    {
        var top = image.ChainIds.Count > 0 ? ImageDocuments.Sha256Hex(image.ChainIds[^1]) : null;
        return [.. new ContainerStore(stateRoot).List()
            .Where(r => top is not null && r.Annotations?.GetValueOrDefault(ImageRootfs.SnapshotsAnnotation)?.EndsWith(top, StringComparison.Ordinal) == true)
            .Select(r => r.Id)];
    }

    private List<string> AllContainerSnapshots() =>
        new ContainerStore(stateRoot).List().SelectMany(r => ImageRootfs.SnapshotsOf(r.Annotations)).ToList();

    public List<ImageInspect> Inspect(IEnumerable<string> names)
    {
        var index = Store.LoadIndex();
        var list = new List<ImageInspect>();
        foreach (var name in names)
        {
            var (manifest, image) = ImageStore.Get(index, name);
            var config = Store.ReadConfig(image);
            var refs = index.Refs.Where(kv => kv.Value == manifest).Select(kv => ImageReference.ParseNormalized(kv.Key)).ToList();
            list.Add(new ImageInspect
            {
                Id = image.Config,
                RepoTags = [.. refs.Where(r => r.Tag is not null).Select(r => r.FamiliarString)],
                RepoDigests = [.. refs.Select(r => r.FamiliarName + "@" + manifest).Distinct()],
                Created = config.Created,
                Architecture = config.Architecture,
                Os = config.Os,
                Size = image.Size,
                Config = config.Config,
                RootFS = config.RootFs,
                ManifestDigest = manifest,
                Snapshots = [.. image.ChainIds],
            });
        }
        return list;
    }

    /// <summary>
    /// A file of the image's merged filesystem, read through its snapshots top-down the way overlayfs
    /// does: the first layer that has the path wins; a whiteout (0:0 device) or an opaque directory above it hides it.
    /// For names in /etc/passwd and /etc/group before the container exists. Null when absent.
    /// </summary>
    public string? ReadFile(StoredImage image, string relativePath)
    {
        var parts = relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var chainId in Enumerable.Reverse(image.ChainIds))
        {
            var snapshot = Store.SnapshotPath(chainId);
            var path = Path.Combine(snapshot, relativePath);
            switch (SnapshotFiles.TypeOf(path))
            {
                case Interop.Images.S_IFREG: return File.ReadAllText(path);
                case 0: break; // not in this layer
                default: return null; // a whiteout, a directory or a symlink (not followed here)
            }
            for (var i = 1; i < parts.Length; i++)
            {
                var prefix = Path.Combine(snapshot, string.Join('/', parts[..i]));
                var type = SnapshotFiles.TypeOf(prefix);
                if (type is not (0 or Interop.Images.S_IFDIR) || (type == Interop.Images.S_IFDIR && SnapshotFiles.IsOpaque(prefix))) return null;
            }
        }
        return null;
    }
}

/// <summary>lstat and the opaque xattr of paths inside snapshots.</summary>
internal static unsafe class SnapshotFiles
{
    /// <summary>The S_IFMT bits of a path, not following a symlink; 0 when it does not exist.</summary>
    public static uint TypeOf(string path)
    {
        Interop.Sys.Stat st;
        if (Interop.Images.fstatat(Interop.Images.AT_FDCWD, path, (byte*)&st, Interop.Images.AT_SYMLINK_NOFOLLOW) == -1) return 0;
        return st.Mode & Interop.Images.S_IFMT;
    }

    public static Interop.Sys.Stat Lstat(string path)
    {
        Interop.Sys.Stat st;
        Interop.Check(Interop.Images.fstatat(Interop.Images.AT_FDCWD, path, (byte*)&st, Interop.Images.AT_SYMLINK_NOFOLLOW), "fstatat", path);
        return st;
    }

    /// <summary>
    /// Where a path of the merged filesystem of these layers (top first) is, read as overlayfs does:
    /// the first layer that has it, unless a whiteout (a character device) or an opaque directory
    /// above hides it, or a layer has a non-directory where one of its parents is. Null: absent.
    /// </summary>
    public static string? MergedEntry(IReadOnlyList<string> layersTopFirst, string relativePath)
    {
        var parts = relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var layer in layersTopFirst)
        {
            var path = Path.Combine(layer, relativePath);
            switch (TypeOf(path))
            {
                case 0: break; // not in this layer
                case Interop.Images.S_IFCHR: return null; // a whiteout (a device node in an image's /etc is not a file either)
                default: return path;
            }
            for (var i = 1; i < parts.Length; i++)
            {
                var prefix = Path.Combine(layer, string.Join('/', parts[..i]));
                var type = TypeOf(prefix);
                if (type is not (0 or Interop.Images.S_IFDIR) || (type == Interop.Images.S_IFDIR && IsOpaque(prefix))) return null;
            }
        }
        return null;
    }

    public static bool IsOpaque(string dir)
    {
        byte* value = stackalloc byte[4];
        return Interop.Images.lgetxattr(dir, "trusted.overlay.opaque", value, 4) == 1 && value[0] == (byte)'y';
    }
}
