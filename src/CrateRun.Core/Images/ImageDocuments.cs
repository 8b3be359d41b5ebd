using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace CrateRun.Core.Images;

/// <summary>Digests, chain ids, and reading the image documents with one-line errors.</summary>
public static class ImageDocuments
{
    /// <summary>sha256:HEX of some bytes.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Checks a digest is one we can store (sha256:64 lower-case hex) and returns its hex.</summary>
    public static string Sha256Hex(string digest)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !digest.AsSpan(7).ContainsOnlyLowerHex())
            throw new CrateRunException($"unsupported or malformed digest '{digest}': expected sha256:<64 lower-case hex>");
        return digest[7..];
    }

    private static bool ContainsOnlyLowerHex(this ReadOnlySpan<char> s)
    {
        foreach (var c in s) if (!char.IsAsciiDigit(c) && c is < 'a' or > 'f') return false;
        return true;
    }

    /// <summary>
    /// The chain ids of a stack of layers (image-spec config.md): ChainID(L0) = DiffID(L0),
    /// ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). Each names the filesystem up to that layer.
    /// </summary>
    public static List<string> ChainIds(IReadOnlyList<string> diffIds)
    {
        var chain = new List<string>(diffIds.Count);
        foreach (var diffId in diffIds)
            chain.Add(chain.Count == 0 ? diffId : Sha256(Encoding.ASCII.GetBytes(chain[^1] + " " + diffId)));
        return chain;
    }

    public static ImageManifest ReadManifest(byte[] json, string what)
    {
        var m = Read(json, ImageJsonContext.Default.ImageManifest, what);
        if (m.SchemaVersion != 2) throw new CrateRunException($"{what}: schemaVersion {m.SchemaVersion} is not supported (2 is)");
        if (m.MediaType is not null && !MediaTypes.IsManifest(m.MediaType))
            throw new CrateRunException($"{what}: media type '{m.MediaType}' is not an image manifest");
        if (string.IsNullOrEmpty(m.Config.Digest)) throw new CrateRunException($"{what}: no config descriptor");
        return m;
    }

    public static ImageIndex ReadIndex(byte[] json, string what) => Read(json, ImageJsonContext.Default.ImageIndex, what);

    /// <summary>An image config (by hand: read at every `run IMAGE`, see <see cref="ImageDocumentReader"/>).</summary>
    public static ImageConfig ReadConfig(byte[] json, string what)
    {
        var c = Read(json, ImageDocumentReader.ReadConfig, what);
        if (c.RootFs is null) throw new CrateRunException($"{what}: rootfs is null (the config must list its layers' diff_ids)");
        if (c.RootFs.Type != "layers") throw new CrateRunException($"{what}: rootfs type '{c.RootFs.Type}' is not 'layers'");
        return c;
    }

    /// <summary>The image store's index.json (by hand: read at every `run IMAGE`, see <see cref="ImageDocumentReader"/>).</summary>
    public static ImageStoreIndex ReadStoreIndex(byte[] json, string what) => Read(json, ImageDocumentReader.ReadStoreIndex, what);

    private delegate T ReadDocument<T>(ReadOnlySpan<byte> json);

    private static T Read<T>(byte[] json, ReadDocument<T> read, string what)
    {
        try { return read(json); }
        catch (JsonException e) { throw new CrateRunException($"{what}: invalid JSON: {e.Message}"); }
    }

    /// <summary>Whether a manifest-ish document is an index (manifest list) rather than a manifest.</summary>
    public static bool IsIndex(byte[] json, string? mediaType, string what)
    {
        if (MediaTypes.IsIndex(mediaType)) return true;
        if (MediaTypes.IsManifest(mediaType)) return false;
        var probe = Read(json, ImageJsonContext.Default.MediaTypeProbe, what);
        return MediaTypes.IsIndex(probe.MediaType) || (probe.MediaType is null && probe.Manifests is not null && probe.Layers is null);
    }

    /// <summary>
    /// The manifest of an index for a platform (default linux/amd64, as Docker picks on this machine):
    /// an exact os/architecture(/variant) match; an entry without a platform when it is the only one.
    /// </summary>
    public static Descriptor SelectPlatform(ImageIndex index, string what, string os = "linux", string architecture = "amd64") =>
        SelectPlatform(index, what, new PlatformSpec(os, architecture, null));

    /// <summary>As above for --platform os/arch[/variant]: with a variant, an entry of that variant (or without one) matches.</summary>
    public static Descriptor SelectPlatform(ImageIndex index, string what, PlatformSpec platform)
    {
        var (os, architecture) = (platform.Os, platform.Architecture);
        var candidates = index.Manifests.Where(d => MediaTypes.IsManifest(d.MediaType) || MediaTypes.IsIndex(d.MediaType) || d.MediaType.Length == 0).ToList();
        var matches = candidates.Where(d => d.Platform is { } p && p.Os == os && p.Architecture == architecture).ToList();
        var match = platform.Variant is null ? matches.FirstOrDefault()
            : matches.FirstOrDefault(d => d.Platform!.Variant == platform.Variant) ?? matches.FirstOrDefault(d => d.Platform!.Variant is null);
        if (match is not null) return match;
        if (candidates.Count == 1 && candidates[0].Platform is null) return candidates[0];
        var have = string.Join(", ", candidates.Select(d => d.Platform is { } p ? $"{p.Os}/{p.Architecture}{(p.Variant is null ? "" : "/" + p.Variant)}" : "unknown"));
        throw new CrateRunException($"{what}: no image for {platform} (it has: {(have.Length == 0 ? "none" : have)})");
    }

    public static T Read<T>(byte[] json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string what)
    {
        try { return JsonSerializer.Deserialize(json, info) ?? throw new CrateRunException($"{what}: empty document"); }
        catch (JsonException e) { throw new CrateRunException($"{what}: invalid JSON: {e.Message}"); }
    }

    public static byte[] Write<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => JsonSerializer.SerializeToUtf8Bytes(value, info);
}
