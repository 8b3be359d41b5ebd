using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CrateRun.Core.Oci;

/// <summary>
/// The OCI state document (`state`'s output, a hook's stdin) written with a
/// <see cref="Utf8JsonWriter"/> directly: the same bytes as <see cref="OciJson.Serialize(OciState, bool)"/>
/// (checked by a test), without System.Text.Json's run-time metadata set-up for
/// <see cref="OciState"/>, which was a tenth of a `state` command.
/// </summary>
public static class OciStateJson
{
    private static readonly JsonWriterOptions Indented = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] WriteUtf8Bytes(OciState state, bool indented = true)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, indented ? Indented : Compact))
        {
            w.WriteStartObject();
            w.WriteString("ociVersion"u8, state.OciVersion);
            w.WriteString("id"u8, state.Id);
            w.WriteString("status"u8, state.Status);
            w.WriteNumber("pid"u8, state.Pid);
            w.WriteString("bundle"u8, state.Bundle);
            if (state.Annotations is { } annotations)
            {
                w.WriteStartObject("annotations"u8);
                foreach (var (key, value) in annotations)
                {
                    if (value is null) w.WriteNull(key);
                    else w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static string Write(OciState state, bool indented = true) => System.Text.Encoding.UTF8.GetString(WriteUtf8Bytes(state, indented));
}
