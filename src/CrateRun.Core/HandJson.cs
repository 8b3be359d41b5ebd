using System.Text.Json;

namespace CrateRun.Core;

/// <summary>
/// What the hand-written <see cref="Utf8JsonReader"/> readers share (Oci.SpecReader,
/// Images.ImageDocumentReader, State.ContainerRecordReader): one value per document, and the
/// error when a token is not the one expected.
/// </summary>
internal static class HandJson
{
    /// <summary>Reads one value starting on its first token.</summary>
    internal delegate T ReadValue<T>(ref Utf8JsonReader r);

    /// <summary>
    /// One value, the whole document. A token of the wrong type or a number out of range (the
    /// reader's InvalidOperationException or FormatException) becomes a JsonException saying where.
    /// </summary>
    /// <param name="nullIsEmpty">the document "null" is "empty document" (else it is the read's to refuse)</param>
    internal static T Document<T>(ReadOnlySpan<byte> json, JsonReaderOptions options, ReadValue<T> read, bool nullIsEmpty = false) where T : class
    {
        var reader = new Utf8JsonReader(json, options);
        try
        {
            if (!reader.Read() || (nullIsEmpty && reader.TokenType == JsonTokenType.Null)) throw new JsonException("empty document");
            var value = read(ref reader);
            if (reader.Read()) throw new JsonException($"unexpected data after the document at byte {reader.TokenStartIndex}");
            return value;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new JsonException($"{e.Message} (at byte {reader.TokenStartIndex})", e);
        }
    }

    internal static void Expect(ref Utf8JsonReader r, JsonTokenType type)
    {
        if (r.TokenType != type) throw new JsonException($"expected {type}, found {r.TokenType} at byte {r.TokenStartIndex}");
    }
}
