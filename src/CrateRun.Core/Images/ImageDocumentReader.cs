using System.Text.Json;
using static CrateRun.Core.HandJson;

namespace CrateRun.Core.Images;

/// <summary>
/// Reads the two documents `run IMAGE` reads at every start, the store's index.json and the
/// image's config, with a <see cref="Utf8JsonReader"/> straight into their models. System.Text.Json's
/// metadata for <see cref="ImageJsonContext"/> is built at run time on first use, per type, with
/// reflection over their attributes: about 1 ms of the CLI's work for these two (perf, issue 12).
/// Same rules as <see cref="ImageJsonContext"/> (Go's encoding/json leniency): member names in any
/// case, unknown members skipped, trailing commas accepted, null for a null reference member.
/// Tests read documents with every member set, and Docker's, against the generated reader.
/// </summary>
public static class ImageDocumentReader
{
    /// <exception cref="JsonException">Not such a document (the message says where).</exception>
    public static ImageStoreIndex ReadStoreIndex(ReadOnlySpan<byte> json) => Document<ImageStoreIndex>(json, StoreIndex);

    /// <exception cref="JsonException">Not such a document (the message says where).</exception>
    public static ImageConfig ReadConfig(ReadOnlySpan<byte> json) => Document<ImageConfig>(json, Config);

    /// <summary>One value, the whole document; null (the document "null") is "empty document" as for the generated reader.</summary>
    private static T Document<T>(ReadOnlySpan<byte> json, ReadValue<T> read) where T : class =>
        HandJson.Document(json, new JsonReaderOptions { AllowTrailingCommas = true }, read, nullIsEmpty: true);

    private static ImageStoreIndex StoreIndex(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var index = new ImageStoreIndex();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "refs": index.Refs = Map(ref r, static (ref Utf8JsonReader v) => v.GetString()!, () => new SortedDictionary<string, string>(StringComparer.Ordinal))!; break;
                case "images": index.Images = Map(ref r, ReadStoredImage, () => new SortedDictionary<string, StoredImage>(StringComparer.Ordinal))!; break;
                default: Skip(ref r); break;
            }
        }
        return index;
    }

    private static StoredImage ReadStoredImage(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null!;
        Expect(ref r, JsonTokenType.StartObject);
        var image = new StoredImage();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "config": image.Config = String(ref r)!; break;
                case "chainids": image.ChainIds = Strings(ref r)!; break;
                case "size": image.Size = Value(ref r).GetInt64(); break;
                case "created": image.Created = Nullable(ref r) ? r.GetDateTimeOffset() : null; break;
                case "loaded": image.Loaded = Value(ref r).GetDateTimeOffset(); break;
                default: Skip(ref r); break;
            }
        }
        return image;
    }

    private static ImageConfig Config(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new ImageConfig();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "created": c.Created = Nullable(ref r) ? r.GetDateTimeOffset() : null; break;
                case "author": c.Author = String(ref r); break;
                case "architecture": c.Architecture = String(ref r)!; break;
                case "os": c.Os = String(ref r)!; break;
                case "variant": c.Variant = String(ref r); break;
                case "config": c.Config = Nullable(ref r) ? ReadContainerConfig(ref r) : null; break;
                case "rootfs": c.RootFs = Nullable(ref r) ? ReadRootFs(ref r) : null!; break;
                case "history": c.History = List(ref r, ReadHistory); break;
                default: Skip(ref r); break;
            }
        }
        return c;
    }

    private static ContainerConfig ReadContainerConfig(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new ContainerConfig();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "user": c.User = String(ref r); break;
                case "exposedports": c.ExposedPorts = Map(ref r, EmptyObjectValue, () => new Dictionary<string, EmptyObject>()); break;
                case "env": c.Env = Strings(ref r); break;
                case "entrypoint": c.Entrypoint = Strings(ref r); break;
                case "cmd": c.Cmd = Strings(ref r); break;
                case "volumes": c.Volumes = Map(ref r, EmptyObjectValue, () => new Dictionary<string, EmptyObject>()); break;
                case "workingdir": c.WorkingDir = String(ref r); break;
                case "labels": c.Labels = Map(ref r, static (ref Utf8JsonReader v) => v.GetString()!, () => new Dictionary<string, string>()); break;
                case "stopsignal": c.StopSignal = String(ref r); break;
                case "healthcheck": c.Healthcheck = Nullable(ref r) ? ReadHealthcheck(ref r) : null; break;
                default: Skip(ref r); break;
            }
        }
        return c;
    }

    private static ImageHealthcheck ReadHealthcheck(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new ImageHealthcheck();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "test": h.Test = Strings(ref r); break;
                case "interval": h.Interval = Value(ref r).GetInt64(); break;
                case "timeout": h.Timeout = Value(ref r).GetInt64(); break;
                case "startperiod": h.StartPeriod = Value(ref r).GetInt64(); break;
                case "startinterval": h.StartInterval = Value(ref r).GetInt64(); break;
                case "retries": h.Retries = Value(ref r).GetInt32(); break;
                default: Skip(ref r); break;
            }
        }
        return h;
    }

    private static RootFs ReadRootFs(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var fs = new RootFs();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "type": fs.Type = String(ref r)!; break;
                case "diff_ids": fs.DiffIds = Strings(ref r)!; break;
                default: Skip(ref r); break;
            }
        }
        return fs;
    }

    private static History ReadHistory(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null!;
        Expect(ref r, JsonTokenType.StartObject);
        var h = new History();
        while (NextProperty(ref r, out var name))
        {
            switch (name)
            {
                case "created": h.Created = Nullable(ref r) ? r.GetDateTimeOffset() : null; break;
                case "created_by": h.CreatedBy = String(ref r); break;
                case "comment": h.Comment = String(ref r); break;
                case "empty_layer": h.EmptyLayer = Nullable(ref r) ? r.GetBoolean() : null; break;
                default: Skip(ref r); break;
            }
        }
        return h;
    }

    /// <summary>A value of ExposedPorts or Volumes: an object whose members mean nothing ({} by convention).</summary>
    private static EmptyObject EmptyObjectValue(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null) return null!;
        Expect(ref r, JsonTokenType.StartObject);
        r.Skip();
        return new EmptyObject();
    }

    /// <summary>
    /// Moves to the next property of the current object and gives its name in lower case (names
    /// match in any case, as the generated reader's PropertyNameCaseInsensitive); false at its end.
    /// </summary>
    private static bool NextProperty(ref Utf8JsonReader r, out string name)
    {
        if (!r.Read()) throw new JsonException("the document ends inside an object");
        name = r.TokenType == JsonTokenType.PropertyName ? r.GetString()!.ToLowerInvariant() : "";
        return r.TokenType == JsonTokenType.PropertyName;
    }

    /// <summary>Moves to the property's value.</summary>
    private static ref Utf8JsonReader Value(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the document ends before a value");
        return ref r;
    }

    /// <summary>Moves to the property's value; false when it is null.</summary>
    private static bool Nullable(ref Utf8JsonReader r) => Value(ref r).TokenType != JsonTokenType.Null;

    private static string? String(ref Utf8JsonReader r) => Nullable(ref r) ? r.GetString() : null;

    private static List<string>? Strings(ref Utf8JsonReader r) => List(ref r, static (ref Utf8JsonReader v) => v.GetString()!);

    /// <summary>The property's value, an array of items (null: null).</summary>
    private static List<T>? List<T>(ref Utf8JsonReader r, ReadValue<T> item)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<T>();
        while (Value(ref r).TokenType != JsonTokenType.EndArray) list.Add(item(ref r));
        return list;
    }

    /// <summary>The property's value, an object of string keys (null: null); a key given twice keeps its last value.</summary>
    private static TMap? Map<TMap, T>(ref Utf8JsonReader r, ReadValue<T> value, Func<TMap> make) where TMap : class, IDictionary<string, T>
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var map = make();
        while (Value(ref r).TokenType == JsonTokenType.PropertyName)
        {
            var key = r.GetString()!;
            Value(ref r);
            map[key] = value(ref r);
        }
        return map;
    }

    private static void Skip(ref Utf8JsonReader r) => Value(ref r).Skip();
}
