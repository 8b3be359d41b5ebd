using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace CrateRun.Core.Oci;

/// <summary>
/// Source-generated System.Text.Json metadata for the OCI documents (no reflection; NativeAOT/trim safe).
/// Reading ignores unknown properties, skips comments, tolerates trailing commas and matches property
/// names case-insensitively (as Go's encoding/json, i.e. runc, does). Writing omits null members.
/// A JSON null for a non-nullable member (e.g. "cwd": null) is rejected.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    PropertyNameCaseInsensitive = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(Spec))]
[JsonSerializable(typeof(Process))]
[JsonSerializable(typeof(LinuxResources))]
[JsonSerializable(typeof(LinuxSeccomp))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(Features))]
[JsonSerializable(typeof(ContainerProcessState))]
public sealed partial class OciJsonContext : JsonSerializerContext;

/// <summary>
/// The same documents, for writing only: the generator emits straight-line serialization code
/// (the "fast path"), which needs none of the run-time metadata set-up that the first use of
/// <see cref="OciJsonContext"/> costs a fresh process (about 1.5 ms for a config.json).
/// </summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Serialization,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Spec))]
[JsonSerializable(typeof(Process))]
[JsonSerializable(typeof(LinuxResources))]
[JsonSerializable(typeof(LinuxSeccomp))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(Features))]
[JsonSerializable(typeof(ContainerProcessState))]
internal sealed partial class OciJsonWriteContext : JsonSerializerContext
{
    /// <summary>
    /// Writes a config.json with the generated fast-path code itself (SpecSerializeHandler), not
    /// through <see cref="JsonSerializer"/>: that would first build the root JsonTypeInfo (a custom
    /// attribute scan of Spec, its converter, the options cache), ~0.3 ms of a fresh process. The
    /// same bytes (a test compares them with <see cref="OciJsonContext"/>'s).
    /// </summary>
    internal void WriteSpec(Utf8JsonWriter writer, Spec spec) => SpecSerializeHandler(writer, spec);
}

/// <summary>Reading and writing OCI JSON documents through <see cref="OciJsonContext"/>.</summary>
public static class OciJson
{
    /// <summary>
    /// Never read: makes the NativeAOT compiler put these two array types in the binary.
    /// System.Text.Json looks for [JsonPolymorphic] and [JsonDerivedType] on every type it builds
    /// metadata for, and the lookup returns its result as an array of the attribute type; an array
    /// type missing from the binary is built by the runtime's type loader at its first use, in every
    /// process that reads or writes JSON through metadata.
    /// </summary>
    internal static readonly Array[] AttributeArrays = [Array.Empty<JsonPolymorphicAttribute>(), Array.Empty<JsonDerivedTypeAttribute>()];

    private static readonly JsonWriterOptions CompactWriter = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    private static readonly JsonWriterOptions IndentedWriter = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = true,
    };

    // ---- reading -------------------------------------------------------------------------------

    /// <summary>
    /// Parses a config.json document. <paramref name="what"/> names the source in error messages.
    /// Read by <see cref="SpecReader"/> (no metadata set-up: `create` reads one per container); a
    /// document it does not take goes to the generated reader, for today's verdict and error message.
    /// </summary>
    /// <exception cref="FormatException">Malformed JSON or a value of the wrong type.</exception>
    public static Spec ReadSpec(string json, string what = "config.json") =>
        ReadFast(json, SpecReader.SpecDocument, static () => OciJsonContext.Default.Spec, what);

    /// <summary>Reads and parses a bundle's config.json.</summary>
    /// <exception cref="FormatException">Malformed JSON; the message names the file.</exception>
    /// <exception cref="IOException">The file cannot be read (e.g. <see cref="FileNotFoundException"/>).</exception>
    public static Spec LoadSpec(string path) => ReadSpec(File.ReadAllText(path), $"config file {path}");

    /// <summary>Parses a bare process document (exec --process).</summary>
    public static Process ReadProcess(string json, string what = "process.json") =>
        ReadFast(json, SpecReader.ProcessDocument, static () => OciJsonContext.Default.Process, what);

    /// <summary>Reads and parses a bare process document from a file (exec --process FILE).</summary>
    public static Process LoadProcess(string path) => ReadProcess(File.ReadAllText(path), $"process file {path}");

    /// <summary>Parses a linux.resources document (update --resources).</summary>
    public static LinuxResources ReadResources(string json, string what = "resources") =>
        ReadFast(json, SpecReader.ResourcesDocument, static () => OciJsonContext.Default.LinuxResources, what);

    /// <summary>Reads and parses a linux.resources document from a file.</summary>
    public static LinuxResources LoadResources(string path) =>
        ReadResources(File.ReadAllText(path), $"resources file {path}");

    /// <summary>Parses a linux.seccomp document.</summary>
    public static LinuxSeccomp ReadSeccomp(string json, string what = "seccomp profile") =>
        ReadFast(json, SpecReader.SeccompDocument, static () => OciJsonContext.Default.LinuxSeccomp, what);

    /// <summary>Parses an OCI state document.</summary>
    public static OciState ReadState(string json, string what = "state") =>
        Read(json, OciJsonContext.Default.OciState, what);

    /// <summary>Parses a features document.</summary>
    public static Features ReadFeatures(string json, string what = "features") =>
        Read(json, OciJsonContext.Default.Features, what);

    /// <summary>Parses any document type registered in <see cref="OciJsonContext"/>.</summary>
    /// <exception cref="FormatException">Malformed JSON, wrong value types, or a top-level null.</exception>
    public static T Read<T>(string json, JsonTypeInfo<T> typeInfo, string what)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(typeInfo);
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{what}: malformed JSON: {OneLine(e.Message)}", e);
        }

        return value ?? throw new FormatException($"{what}: malformed JSON: expected an object, got null");
    }

    /// <summary>
    /// <see cref="SpecReader"/> first; what it refuses is read again by the generated reader, whose
    /// exception and message are today's (a test checks that both refuse the same documents). Only
    /// then is the generated metadata built: <paramref name="typeInfo"/> is a function for that.
    /// </summary>
    private static T ReadFast<T>(string json, HandJson.ReadValue<T> read, Func<JsonTypeInfo<T>> typeInfo, string what)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(json);
        return SpecReader.TryRead(json, read, out var value) ? value : Read(json, typeInfo(), what);
    }

    // ---- writing -------------------------------------------------------------------------------

    /// <summary>Serializes a config.json document (indented by default, null members omitted).</summary>
    public static string Serialize(Spec spec, bool indented = true) => Write(spec, indented);

    /// <summary>Serializes an OCI state document (indented by default, like `runc state`).</summary>
    public static string Serialize(OciState state, bool indented = true) => Write(state, indented);

    /// <summary>Serializes a features document (indented by default, like `runc features`).</summary>
    public static string Serialize(Features features, bool indented = true) => Write(features, indented);

    /// <summary>
    /// Serializes any type registered in <see cref="OciJsonContext"/> (Spec, Process, LinuxResources,
    /// LinuxSeccomp, OciState, Features and every type reachable from them).
    /// </summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not known to the context.</exception>
    public static string Write<T>(T value, bool indented = false) =>
        Encoding.UTF8.GetString(WriteUtf8(value, indented).WrittenSpan);

    /// <summary>Like <see cref="Write{T}"/> but returns UTF-8 bytes (for files, pipes, hook stdin).</summary>
    public static byte[] WriteUtf8Bytes<T>(T value, bool indented = false) =>
        WriteUtf8(value, indented).WrittenSpan.ToArray();

    /// <summary>The generated metadata for <typeparamref name="T"/>.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not known to the context.</exception>
    public static JsonTypeInfo<T> TypeInfo<T>() =>
        OciJsonContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
        ?? throw new NotSupportedException($"{typeof(T).FullName} is not registered in {nameof(OciJsonContext)}");

    private static ArrayBufferWriter<byte> WriteUtf8<T>(T value, bool indented)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, indented ? IndentedWriter : CompactWriter))
        {
            if (value is Spec spec)
            {
                OciJsonWriteContext.Default.WriteSpec(writer, spec);
            }
            else
            {
                var typeInfo = OciJsonWriteContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T> ?? TypeInfo<T>();
                JsonSerializer.Serialize(writer, value, typeInfo);
            }
        }

        return buffer;
    }

    private static string OneLine(string message) =>
        message.ReplaceLineEndings(" ").Trim();
}
