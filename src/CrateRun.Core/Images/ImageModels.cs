using System.Text.Json.Serialization;

namespace CrateRun.Core.Images;

/// <summary>Media types of the OCI image spec and of Docker's schema2 (distribution's manifest lists).</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string OciLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    public static bool IsManifest(string? t) => t is OciManifest or DockerManifest;
    public static bool IsIndex(string? t) => t is OciIndex or DockerManifestList;
}

/// <summary>A content descriptor: what a blob is, its digest and size.</summary>
public sealed class Descriptor
{
    [JsonPropertyName("mediaType")] public string MediaType { get; set; } = "";
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("urls")] public List<string>? Urls { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("platform")] public Platform? Platform { get; set; }
}

public sealed class Platform
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("os.version")] public string? OsVersion { get; set; }
    [JsonPropertyName("variant")] public string? Variant { get; set; }
}

/// <summary>An OCI image manifest, or a Docker schema2 manifest (same shape, other media types).</summary>
public sealed class ImageManifest
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("config")] public Descriptor Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<Descriptor> Layers { get; set; } = [];
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>An OCI image index, or a Docker manifest list; also the index.json of an OCI layout.</summary>
public sealed class ImageIndex
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; } = 2;
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public List<Descriptor> Manifests { get; set; } = [];
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>The image configuration (OCI image-spec config.md; Docker's image JSON is a superset).</summary>
public sealed class ImageConfig
{
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("variant")] public string? Variant { get; set; }
    [JsonPropertyName("config")] public ContainerConfig? Config { get; set; }
    [JsonPropertyName("rootfs")] public RootFs RootFs { get; set; } = new();
    [JsonPropertyName("history")] public List<History>? History { get; set; }
}

/// <summary>The execution parameters an image gives its containers.</summary>
public sealed class ContainerConfig
{
    [JsonPropertyName("User")] public string? User { get; set; }
    [JsonPropertyName("ExposedPorts")] public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    [JsonPropertyName("Env")] public List<string>? Env { get; set; }
    [JsonPropertyName("Entrypoint")] public List<string>? Entrypoint { get; set; }
    [JsonPropertyName("Cmd")] public List<string>? Cmd { get; set; }
    [JsonPropertyName("Volumes")] public Dictionary<string, EmptyObject>? Volumes { get; set; }
    [JsonPropertyName("WorkingDir")] public string? WorkingDir { get; set; }
    [JsonPropertyName("Labels")] public Dictionary<string, string>? Labels { get; set; }
    [JsonPropertyName("StopSignal")] public string? StopSignal { get; set; }
    /// <summary>The image's HEALTHCHECK, as Docker writes it in the config (durations in nanoseconds).</summary>
    [JsonPropertyName("Healthcheck")] public ImageHealthcheck? Healthcheck { get; set; }
}

/// <summary>
/// Docker's HealthConfig in an image config: Test is ["NONE"], ["CMD", argv...] or
/// ["CMD-SHELL", command]; an empty Test inherits; durations are nanoseconds, 0 meaning the default.
/// </summary>
public sealed class ImageHealthcheck
{
    [JsonPropertyName("Test")] public List<string>? Test { get; set; }
    [JsonPropertyName("Interval"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Interval { get; set; }
    [JsonPropertyName("Timeout"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long Timeout { get; set; }
    [JsonPropertyName("StartPeriod"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long StartPeriod { get; set; }
    [JsonPropertyName("StartInterval"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public long StartInterval { get; set; }
    [JsonPropertyName("Retries"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int Retries { get; set; }
}

public sealed class EmptyObject;

public sealed class RootFs
{
    [JsonPropertyName("type")] public string Type { get; set; } = "layers";
    [JsonPropertyName("diff_ids")] public List<string> DiffIds { get; set; } = [];
}

public sealed class History
{
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("empty_layer")] public bool? EmptyLayer { get; set; }
}

/// <summary>One entry of the manifest.json that `docker save` writes (a docker-archive).</summary>
public sealed class DockerArchiveEntry
{
    [JsonPropertyName("Config")] public string Config { get; set; } = "";
    [JsonPropertyName("RepoTags")] public List<string>? RepoTags { get; set; }
    [JsonPropertyName("Layers")] public List<string> Layers { get; set; } = [];
}

/// <summary>The oci-layout file of an OCI image layout.</summary>
public sealed class OciLayoutFile
{
    [JsonPropertyName("imageLayoutVersion")] public string ImageLayoutVersion { get; set; } = "1.0.0";
}

/// <summary>The store's index (images/index.json): references → manifest digest, and what each image is made of.</summary>
public sealed class ImageStoreIndex
{
    [JsonPropertyName("refs")] public SortedDictionary<string, string> Refs { get; set; } = new(StringComparer.Ordinal);
    [JsonPropertyName("images")] public SortedDictionary<string, StoredImage> Images { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>An image in the store, keyed by its manifest digest.</summary>
public sealed class StoredImage
{
    /// <summary>The config's digest: Docker's image id.</summary>
    [JsonPropertyName("config")] public string Config { get; set; } = "";
    /// <summary>Snapshot keys (chain ids), bottom layer first.</summary>
    [JsonPropertyName("chainIds")] public List<string> ChainIds { get; set; } = [];
    /// <summary>Unpacked size in bytes (sum of the layers' tar sizes).</summary>
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("loaded")] public DateTimeOffset Loaded { get; set; }
}

/// <summary>Source-generated JSON for the image documents (NativeAOT/trim safe). Reading is lenient like Go's encoding/json.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(List<DockerArchiveEntry>))]
[JsonSerializable(typeof(OciLayoutFile))]
[JsonSerializable(typeof(ImageStoreIndex))]
[JsonSerializable(typeof(MediaTypeProbe))]
public sealed partial class ImageJsonContext : JsonSerializerContext;

/// <summary>Just the mediaType (and whether manifests/layers exist), to tell a manifest from an index.</summary>
public sealed class MediaTypeProbe
{
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public List<Descriptor>? Manifests { get; set; }
    [JsonPropertyName("layers")] public List<Descriptor>? Layers { get; set; }
}

/// <summary>What `craterun image inspect` prints for one image (Docker's field names).</summary>
public sealed class ImageInspect
{
    public string Id { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public DateTimeOffset? Created { get; set; }
    public string Architecture { get; set; } = "";
    public string Os { get; set; } = "";
    public long Size { get; set; }
    public ContainerConfig? Config { get; set; }
    public RootFs RootFS { get; set; } = new();
    public string ManifestDigest { get; set; } = "";
    public List<string> Snapshots { get; set; } = [];
}

[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Serialization, WriteIndented = true)]
[JsonSerializable(typeof(List<ImageInspect>))]
public sealed partial class ImageInspectJsonContext : JsonSerializerContext;
