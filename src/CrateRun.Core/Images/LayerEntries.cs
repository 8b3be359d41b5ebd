namespace CrateRun.Core.Images;

/// <summary>What a layer tar entry's name means once it is inside a snapshot.</summary>
public enum LayerEntryKind
{
    /// <summary>An ordinary file, directory, link, device or fifo.</summary>
    Regular,
    /// <summary><c>DIR/.wh.NAME</c>: NAME is deleted from the layers below (overlayfs: a 0:0 character device).</summary>
    Whiteout,
    /// <summary><c>DIR/.wh..wh..opq</c>: DIR hides everything below it (overlayfs: trusted.overlay.opaque=y).</summary>
    OpaqueDirectory,
    /// <summary>The root itself ("./", "/"): only its metadata.</summary>
    Root,
}

/// <summary>
/// Pure rules for layer tar entries (image-spec layer.md "Whiteouts"): names are cleaned
/// lexically; a name or link target that climbs above the root (<c>..</c>) is refused,
/// a leading <c>/</c> is taken as relative to the root, as Docker's archive package does.
/// </summary>
public static class LayerEntries
{
    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueMarker = ".wh..wh..opq";

    /// <summary>
    /// Cleans an entry name into a relative path without "." or ".." ("" for the root).
    /// Throws for a name that leaves the root.
    /// </summary>
    public static string CleanName(string name)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) throw new CrateRunException($"layer entry '{name}' climbs out of the image root (..)");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            if (part.Contains('\0')) throw new CrateRunException($"layer entry '{name}' has a NUL byte");
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>Classifies a cleaned name; for a whiteout, <paramref name="target"/> is the path it deletes, for an opaque marker its directory.</summary>
    public static LayerEntryKind Classify(string cleaned, out string target)
    {
        target = cleaned;
        if (cleaned.Length == 0) return LayerEntryKind.Root;
        var slash = cleaned.LastIndexOf('/');
        var dir = slash < 0 ? "" : cleaned[..slash];
        var file = cleaned[(slash + 1)..];
        if (file == OpaqueMarker)
        {
            target = dir;
            return LayerEntryKind.OpaqueDirectory;
        }
        if (file.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var deleted = file[WhiteoutPrefix.Length..];
            if (deleted.Length == 0 || deleted is "." or "..")
                throw new CrateRunException($"layer entry '{cleaned}' is a whiteout of nothing");
            target = dir.Length == 0 ? deleted : dir + "/" + deleted;
            return LayerEntryKind.Whiteout;
        }
        return LayerEntryKind.Regular;
    }

    /// <summary>Parent directory and last component of a cleaned, non-empty name.</summary>
    public static (string Parent, string Name) Split(string cleaned)
    {
        var slash = cleaned.LastIndexOf('/');
        return slash < 0 ? ("", cleaned) : (cleaned[..slash], cleaned[(slash + 1)..]);
    }
}
