using System.Formats.Tar;
using System.IO.Compression;
using CrateRun.Core;
using CrateRun.Core.Images;

namespace CrateRun.Linux.Images;

/// <summary>An image that went into the store: its manifest digest, its id (config digest) and the references it got.</summary>
public sealed record LoadedImage(string ManifestDigest, string Id, IReadOnlyList<string> References);

/// <summary>
/// <c>craterun load</c>: a docker-archive (what <c>docker save</c> writes: manifest.json, configs,
/// layer tars) or an OCI image layout (oci-layout, index.json, blobs/sha256/...), as a tar
/// (plain or gzip) or as a directory. The archive is read once: every file is copied into the
/// store's tmp/ while it is hashed; the blobs the images need are then renamed into place.
/// </summary>
public sealed class ArchiveLoader(ImageStore store)
{
    private sealed record ArchiveFile(string TempPath, string Digest, long Size);

    private readonly Dictionary<string, ArchiveFile> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _links = new(StringComparer.Ordinal);

    public List<LoadedImage> Load(string path)
    {
        using var _ = store.Lock();
        try
        {
            if (Directory.Exists(path)) ReadDirectory(path);
            else if (File.Exists(path)) ReadTar(path);
            else throw new UsageException($"{path}: no such file or directory");

            if (Find("manifest.json") is { } dockerManifest) return LoadDockerArchive(dockerManifest);
            if (Find("index.json") is { } ociIndex)
            {
                if (Find("oci-layout") is null) throw new CrateRunException($"{path}: index.json without oci-layout: not an OCI image layout");
                return LoadOciLayout(ociIndex);
            }
            throw new CrateRunException($"{path}: neither a docker-archive (manifest.json) nor an OCI image layout (oci-layout, index.json)");
        }
        finally
        {
            foreach (var f in _files.Values) File.Delete(f.TempPath);
        }
    }

    private void ReadTar(string path)
    {
        using var file = File.OpenRead(path);
        var head = new byte[2];
        var n = file.Read(head);
        file.Position = 0;
        using var stream = n == 2 && head[0] == 0x1f && head[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        TarReader reader;
        try { reader = new TarReader(stream); }
        catch (InvalidDataException e) { throw new CrateRunException($"{path}: not a tar archive ({e.Message})"); }
        try
        {
            while (reader.GetNextEntry(copyData: false) is { } e)
            {
                var name = LayerEntries.CleanName(e.Name);
                switch (e.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        if (_files.ContainsKey(name)) throw new CrateRunException($"{path}: '{name}' appears twice");
                        var (tmp, digest, size) = store.WriteTemp(e.DataStream ?? Stream.Null);
                        _files[name] = new ArchiveFile(tmp, digest, size);
                        break;
                    case TarEntryType.SymbolicLink:
                        // docker save links a layer used twice to its first copy (../ID/layer.tar)
                        _links[name] = LayerEntries.CleanName(Path.Combine(Path.GetDirectoryName(name) ?? "", e.LinkName));
                        break;
                    case TarEntryType.HardLink:
                        _links[name] = LayerEntries.CleanName(e.LinkName);
                        break;
                }
            }
        }
        catch (InvalidDataException e) { throw new CrateRunException($"{path}: damaged tar archive ({e.Message})"); }
    }

    private void ReadDirectory(string dir)
    {
        foreach (var f in Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var name = Path.GetRelativePath(dir, f);
            if (new FileInfo(f).LinkTarget is { } target)
            {
                _links[name] = LayerEntries.CleanName(Path.Combine(Path.GetDirectoryName(name) ?? "", target));
                continue;
            }
            using var s = File.OpenRead(f);
            var (tmp, digest, size) = store.WriteTemp(s);
            _files[name] = new ArchiveFile(tmp, digest, size);
        }
    }

    /// <summary>A file of the archive by name, following the archive's own links (at most 10).</summary>
    private ArchiveFile? Find(string name)
    {
        name = LayerEntries.CleanName(name);
        for (var i = 0; i < 10; i++)
        {
            if (_files.TryGetValue(name, out var f)) return f;
            if (!_links.TryGetValue(name, out var next)) return null;
            name = next;
        }
        return null;
    }

    private ArchiveFile Need(string name, string what) =>
        Find(name) ?? throw new CrateRunException($"the archive has no {name} ({what})");

    private static byte[] Bytes(ArchiveFile f) => File.ReadAllBytes(f.TempPath);

    /// <summary>Puts a file of the archive into blobs/ under its digest (a copy: the same file may be needed twice).</summary>
    private string Publish(ArchiveFile f, string? expectedDigest, string what)
    {
        var digest = expectedDigest ?? f.Digest;
        if (store.HasBlob(digest) && f.Digest == digest) return digest;
        var copy = store.NewTempPath("blob");
        File.Copy(f.TempPath, copy);
        store.Commit(copy, f.Digest, digest, what);
        return digest;
    }

    // ---- docker-archive -------------------------------------------------------------------

    private List<LoadedImage> LoadDockerArchive(ArchiveFile manifestFile)
    {
        var entries = ImageDocuments.Read(Bytes(manifestFile), ImageJsonContext.Default.ListDockerArchiveEntry, "manifest.json");
        if (entries.Count == 0) throw new CrateRunException("manifest.json lists no image");
        var loaded = new List<LoadedImage>();
        foreach (var entry in entries)
        {
            var configFile = Need(entry.Config, "image config");
            var config = ImageDocuments.ReadConfig(Bytes(configFile), entry.Config);
            if (config.RootFs.DiffIds.Count != entry.Layers.Count)
                throw new CrateRunException($"{entry.Config}: the config has {config.RootFs.DiffIds.Count} diff_ids but manifest.json lists {entry.Layers.Count} layers");
            var manifest = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Publish(configFile, null, entry.Config), Size = configFile.Size },
            };
            foreach (var layerName in entry.Layers)
            {
                var layer = Need(layerName, "layer");
                manifest.Layers.Add(new Descriptor { MediaType = LayerMediaType(layer), Digest = Publish(layer, null, layerName), Size = layer.Size });
            }
            var refs = (entry.RepoTags ?? []).Select(t => ImageReference.Parse(t).ToString()).ToList();
            loaded.Add(Commit(manifest, config, refs));
        }
        return loaded;
    }

    private static string LayerMediaType(ArchiveFile layer)
    {
        using var s = File.OpenRead(layer.TempPath);
        var head = new byte[4];
        var n = s.Read(head);
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return MediaTypes.OciLayerGzip;
        return n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd ? MediaTypes.OciLayerZstd : MediaTypes.OciLayer;
    }

    // ---- OCI image layout -----------------------------------------------------------------

    private List<LoadedImage> LoadOciLayout(ArchiveFile indexFile)
    {
        var index = ImageDocuments.ReadIndex(Bytes(indexFile), "index.json");
        var loaded = new List<LoadedImage>();
        foreach (var d in index.Manifests)
        {
            var descriptor = d;
            var manifestFile = Blob(descriptor);
            if (ImageDocuments.IsIndex(Bytes(manifestFile), descriptor.MediaType, descriptor.Digest))
            {
                descriptor = ImageDocuments.SelectPlatform(ImageDocuments.ReadIndex(Bytes(manifestFile), descriptor.Digest), descriptor.Digest);
                manifestFile = Blob(descriptor);
            }
            var manifest = ImageDocuments.ReadManifest(Bytes(manifestFile), descriptor.Digest);
            var configFile = Blob(manifest.Config);
            var config = ImageDocuments.ReadConfig(Bytes(configFile), manifest.Config.Digest);
            Publish(configFile, manifest.Config.Digest, "image config");
            foreach (var layer in manifest.Layers) Publish(Blob(layer), layer.Digest, $"layer {layer.Digest}");
            var refs = new List<string>();
            var name = d.Annotations?.GetValueOrDefault("io.containerd.image.name")
                ?? d.Annotations?.GetValueOrDefault("org.opencontainers.image.ref.name");
            // a bare ref.name ("latest") is only a tag inside the layout, not an image name
            if (name is not null && (name.Contains('/') || name.Contains(':') || name.Contains('@'))) refs.Add(ImageReference.Parse(name).ToString());
            loaded.Add(Commit(manifest, config, refs, Bytes(manifestFile)));
        }
        if (loaded.Count == 0) throw new CrateRunException("index.json lists no image");
        return loaded;
    }

    private ArchiveFile Blob(Descriptor d)
    {
        var hex = ImageDocuments.Sha256Hex(d.Digest);
        var f = Need($"blobs/sha256/{hex}", d.MediaType);
        if (f.Digest != d.Digest) throw new CrateRunException($"blobs/sha256/{hex}: content has digest {f.Digest}, not its name");
        if (f.Size != d.Size) throw new CrateRunException($"blobs/sha256/{hex}: {f.Size} bytes, the descriptor says {d.Size}");
        return f;
    }

    // ---- both -----------------------------------------------------------------------------

    /// <summary>Unpacks the layers (each once), stores the manifest, records the image and its references.</summary>
    private LoadedImage Commit(ImageManifest manifest, ImageConfig config, List<string> refs, byte[]? manifestBytes = null)
    {
        if (config.RootFs.DiffIds.Count != manifest.Layers.Count)
            throw new CrateRunException($"image {manifest.Config.Digest}: {manifest.Layers.Count} layers but {config.RootFs.DiffIds.Count} diff_ids");
        var chainIds = ImageDocuments.ChainIds(config.RootFs.DiffIds);
        long size = 0;
        for (var i = 0; i < manifest.Layers.Count; i++)
        {
            var layer = manifest.Layers[i];
            size += store.EnsureSnapshot(chainIds[i], config.RootFs.DiffIds[i], store.BlobPath(layer.Digest), $"layer {i + 1} ({layer.Digest})");
        }
        var manifestDigest = store.WriteBlob(manifestBytes ?? ImageDocuments.Write(manifest, ImageJsonContext.Default.ImageManifest));
        var index = store.LoadIndex();
        index.Images[manifestDigest] = new StoredImage
        {
            Config = manifest.Config.Digest, ChainIds = chainIds, Size = size, Created = config.Created, Loaded = DateTimeOffset.UtcNow,
        };
        foreach (var r in refs) index.Refs[r] = manifestDigest;
        store.SaveIndex(index);
        return new LoadedImage(manifestDigest, manifest.Config.Digest, refs);
    }

    /// <summary>
    /// <c>craterun import</c>: a root filesystem tarball becomes a one-layer image. The tarball is stored
    /// as its layer blob as given (plain or gzip); the config carries the --change settings.
    /// </summary>
    public LoadedImage Import(string tarball, string? reference, ContainerConfig containerConfig)
    {
        List<string> refs = reference is null ? [] : [ImageReference.Parse(reference).ToString()];
        if (tarball != "-" && !File.Exists(tarball)) throw new UsageException($"{tarball}: no such file");
        using var _ = store.Lock();
        string tmp;
        string digest;
        long size;
        using (var s = tarball == "-" ? Console.OpenStandardInput() : File.OpenRead(tarball))
            (tmp, digest, size) = store.WriteTemp(s);
        try
        {
            var file = new ArchiveFile(tmp, digest, size);
            var layerDigest = Publish(file, null, tarball);
            // the DiffID is known once the layer is unpacked: unpack into a snapshot keyed by a temporary name first
            var staging = store.NewTempPath("import");
            Directory.CreateDirectory(staging);
            LayerUnpacker.Result result;
            try
            {
                using (var layer = File.OpenRead(store.BlobPath(layerDigest))) result = LayerUnpacker.Unpack(layer, staging);
                Directory.CreateDirectory(store.SnapshotsDir);
                if (!store.HasSnapshot(result.DiffId))
                {
                    File.WriteAllText(Path.Combine(store.SnapshotsDir, ImageDocuments.Sha256Hex(result.DiffId) + ".size"), result.Size.ToString());
                    ImageStore.MoveSnapshot(staging, store.SnapshotPath(result.DiffId));
                }
            }
            finally
            {
                if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
                File.Delete(staging + LayerUnpacker.SpecialOwnersSuffix);
            }
            var now = DateTimeOffset.UtcNow;
            var config = new ImageConfig
            {
                Created = now, Architecture = "amd64", Os = "linux", Config = containerConfig,
                RootFs = new RootFs { DiffIds = [result.DiffId] },
                History = [new History { Created = now, CreatedBy = "craterun import", Comment = "Imported from " + (tarball == "-" ? "-" : Path.GetFileName(tarball)) }],
            };
            var configDigest = store.WriteBlob(ImageDocuments.Write(config, ImageJsonContext.Default.ImageConfig));
            var manifest = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = store.ReadBlob(configDigest).Length },
                Layers = [new Descriptor { MediaType = LayerMediaType(new ArchiveFile(store.BlobPath(layerDigest), layerDigest, size)), Digest = layerDigest, Size = size }],
            };
            var manifestDigest = store.WriteBlob(ImageDocuments.Write(manifest, ImageJsonContext.Default.ImageManifest));
            var index = store.LoadIndex();
            index.Images[manifestDigest] = new StoredImage
            {
                Config = configDigest, ChainIds = [result.DiffId], Size = result.Size, Created = now, Loaded = now,
            };
            foreach (var r in refs) index.Refs[r] = manifestDigest;
            store.SaveIndex(index);
            return new LoadedImage(manifestDigest, configDigest, refs);
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
