using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using CrateRun.Core;
using CrateRun.Core.Images;

namespace CrateRun.Linux.Images;

/// <summary>
/// <c>craterun save</c>: images of the store as one tar that other tools load.
/// <list type="bullet">
/// <item><c>docker-archive</c> (what <c>docker save</c> wrote before Docker 25): manifest.json,
/// the configs as HEX.json, each layer uncompressed as DIFFID/layer.tar (its DiffID is then its digest).</item>
/// <item><c>oci-archive</c>: an OCI image layout (oci-layout, index.json naming each image in
/// org.opencontainers.image.ref.name, blobs/sha256/...) with the blobs as stored, compressed.</item>
/// </list>
/// The archive is written to a temporary file next to the output and renamed when complete.
/// </summary>
public sealed class ImageSaver(ImageStore store)
{
    public const string DockerArchive = "docker-archive";
    public const string OciArchive = "oci-archive";

    public void Save(IReadOnlyList<string> images, string format, Stream output)
    {
        if (format is not (DockerArchive or OciArchive))
            throw new UsageException($"invalid --format '{format}': docker-archive or oci-archive");
        var index = store.LoadIndex();
        var chosen = new List<(string Text, string ManifestDigest, StoredImage Image, List<string> Refs)>();
        foreach (var text in images)
        {
            var (manifestDigest, image) = ImageStore.Get(index, text);
            // a reference names itself; an id names the image with all its tags
            var refs = ImageReference.TryParse(text, out var r) && index.Refs.ContainsKey(r!.ToString())
                ? [r.ToString()]
                : index.Refs.Where(kv => kv.Value == manifestDigest).Select(kv => kv.Key).ToList();
            chosen.Add((text, manifestDigest, image, refs));
        }
        using var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        if (format == DockerArchive) WriteDockerArchive(writer, chosen);
        else WriteOciArchive(writer, chosen);
    }

    private void WriteDockerArchive(TarWriter writer, List<(string Text, string ManifestDigest, StoredImage Image, List<string> Refs)> images)
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        var entries = new JsonArray();
        foreach (var (_, manifestDigest, image, refs) in images)
        {
            var manifest = ImageDocuments.ReadManifest(store.ReadBlob(manifestDigest), manifestDigest);
            var config = ImageDocuments.ReadConfig(store.ReadBlob(image.Config), image.Config);
            var configName = ImageDocuments.Sha256Hex(image.Config) + ".json";
            if (written.Add(configName)) WriteFile(writer, configName, store.BlobPath(image.Config));
            var layerNames = new JsonArray();
            for (var i = 0; i < manifest.Layers.Count; i++)
            {
                var diffId = config.RootFs.DiffIds[i];
                var name = ImageDocuments.Sha256Hex(diffId) + "/layer.tar";
                if (written.Add(name)) WriteUncompressedLayer(writer, name, manifest.Layers[i], diffId);
                layerNames.Add((JsonNode)name);
            }
            entries.Add((JsonNode)new JsonObject
            {
                ["Config"] = configName,
                ["RepoTags"] = new JsonArray([.. refs.Select(ImageReference.ParseNormalized).Where(x => x.Tag is not null).Select(x => (JsonNode)x.FamiliarString)]),
                ["Layers"] = layerNames,
            });
        }
        WriteBytes(writer, "manifest.json", Encoding.UTF8.GetBytes(entries.ToJsonString()));
    }

    /// <summary>A layer decompressed (into a temporary file: a tar entry needs its size first), checked against its DiffID.</summary>
    private void WriteUncompressedLayer(TarWriter writer, string name, Descriptor layer, string diffId)
    {
        var tmp = store.NewTempPath("save");
        try
        {
            using (var blob = File.OpenRead(store.BlobPath(layer.Digest)))
            using (var plain = Decompress(blob))
            using (var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
                plain.CopyTo(file);
            using (var check = File.OpenRead(tmp))
            {
                var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(check));
                if (digest != diffId) throw new CrateRunException($"layer {layer.Digest}: uncompressed digest {digest}, the config says {diffId}");
            }
            WriteFile(writer, name, tmp);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static Stream Decompress(FileStream blob)
    {
        var head = new byte[4];
        var n = blob.Read(head);
        blob.Position = 0;
        if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true);
        if (n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) return new ZstdSharp.DecompressionStream(blob, leaveOpen: true);
        return new NonClosing(blob);
    }

    private void WriteOciArchive(TarWriter writer, List<(string Text, string ManifestDigest, StoredImage Image, List<string> Refs)> images)
    {
        WriteBytes(writer, "oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"));
        var written = new HashSet<string>(StringComparer.Ordinal);
        var manifests = new JsonArray();
        void Blob(string digest)
        {
            if (written.Add(digest)) WriteFile(writer, "blobs/sha256/" + ImageDocuments.Sha256Hex(digest), store.BlobPath(digest));
        }
        foreach (var (_, manifestDigest, image, refs) in images)
        {
            var bytes = store.ReadBlob(manifestDigest);
            var manifest = ImageDocuments.ReadManifest(bytes, manifestDigest);
            Blob(manifestDigest);
            Blob(manifest.Config.Digest);
            foreach (var layer in manifest.Layers) Blob(layer.Digest);
            foreach (var name in refs.DefaultIfEmpty(null))
            {
                var d = new JsonObject { ["mediaType"] = manifest.MediaType ?? MediaTypes.OciManifest, ["digest"] = manifestDigest, ["size"] = bytes.Length };
                if (name is not null)
                    d["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = name, ["io.containerd.image.name"] = name };
                manifests.Add((JsonNode)d);
            }
        }
        WriteBytes(writer, "index.json", Encoding.UTF8.GetBytes(new JsonObject { ["schemaVersion"] = 2, ["manifests"] = manifests }.ToJsonString()));
    }

    private static void WriteFile(TarWriter writer, string name, string path)
    {
        using var s = File.OpenRead(path);
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = s, Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch });
    }

    private static void WriteBytes(TarWriter writer, string name, byte[] bytes) =>
        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes), Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch });

    private sealed class NonClosing(Stream inner) : ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    }
}
