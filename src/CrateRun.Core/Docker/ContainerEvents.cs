using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CrateRun.Core.Docker;

/// <summary>
/// One lifecycle event of a container (Docker's events: create, start, die, oom, kill, stop, pause,
/// unpause, rename, restart, destroy, "exec_create: CMD", "exec_start: CMD", exec_die,
/// "health_status: healthy|unhealthy"), as the engine appends it to the state root's event log, one JSON
/// line each: {"time":UNIX_NANOSECONDS,"action":"die","id":"...","attributes":{"exitCode":"0","name":"web"}}.
/// </summary>
public sealed record ContainerEvent(long TimeNano, string Action, string Id, IReadOnlyDictionary<string, string> Attributes)
{
    public DateTimeOffset Time => DateTimeOffset.UnixEpoch.AddTicks(TimeNano / 100);

    public static long NanosOf(DateTimeOffset t) => (t - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>A new exec's id: 64 hex digits, as Docker's (a name, not a secret: no crypto library loaded for it, as for container ids).</summary>
    public static string NewExecId()
    {
        Span<byte> b = stackalloc byte[32];
        Random.Shared.NextBytes(b);
        return Convert.ToHexStringLower(b);
    }

    /// <summary>An exec's command in its events, as Docker writes it: the program, a space, then the arguments joined by spaces ("date " without any).</summary>
    public static string ExecCommand(IReadOnlyList<string> argv) =>
        argv.Count == 0 ? " " : argv[0] + " " + string.Join(' ', argv.Skip(1));

    /// <summary>The log's line for this event (no newline).</summary>
    public byte[] ToLogLine()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("time", TimeNano);
            w.WriteString("action", Action);
            w.WriteString("id", Id);
            w.WriteStartObject("attributes");
            foreach (var (k, v) in Attributes.OrderBy(a => a.Key, StringComparer.Ordinal)) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>A line of the log; null for one that is not an event (a torn or foreign line is skipped, not fatal).</summary>
    public static ContainerEvent? FromLogLine(ReadOnlySpan<byte> line)
    {
        try
        {
            var r = new Utf8JsonReader(line);
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return null;
            long time = 0;
            string? action = null, id = null;
            var attributes = new Dictionary<string, string>();
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                var name = r.GetString();
                r.Read();
                switch (name)
                {
                    case "time": time = r.GetInt64(); break;
                    case "action": action = r.GetString(); break;
                    case "id": id = r.GetString(); break;
                    case "attributes" when r.TokenType == JsonTokenType.StartObject:
                        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                        {
                            var key = r.GetString()!;
                            r.Read();
                            attributes[key] = r.GetString() ?? "";
                        }
                        break;
                    default: r.Skip(); break;
                }
            }
            return action is null || id is null ? null : new ContainerEvent(time, action, id, attributes);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Docker's text: 2026-11-30T05:00:00.000000000Z container start ID (image=..., name=NAME).</summary>
    public string ToText()
    {
        var stamp = TimeArgument.FormatNanos(TimeNano);
        var attrs = string.Join(", ", Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));
        return $"{stamp} container {Action} {Id}" + (attrs.Length > 0 ? $" ({attrs})" : "");
    }

    /// <summary>Docker's JSON form of an event (docker events --format '{{json .}}').</summary>
    public string ToDockerJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("status", Action);
            w.WriteString("id", Id);
            if (Attributes.TryGetValue("image", out var image)) w.WriteString("from", image);
            w.WriteString("Type", "container");
#pragma warning disable CA1507 // "Action" and "Attributes" are Docker's JSON keys, not references to the properties
            w.WriteString("Action", Action);
            w.WriteStartObject("Actor");
            w.WriteString("ID", Id);
            w.WriteStartObject("Attributes");
#pragma warning restore CA1507
            foreach (var (k, v) in Attributes.OrderBy(a => a.Key, StringComparer.Ordinal)) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteString("scope", "local");
            w.WriteNumber("time", TimeNano / 1_000_000_000L);
            w.WriteNumber("timeNano", TimeNano);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>
/// events --filter: container=ID|NAME (an id prefix too), event=ACTION (exec_create, exec_start
/// and health_status also match their "ACTION: ..." forms, as Docker's), type=container,
/// label=KEY[=VALUE]. The same key given twice: either value; different keys: all of them (Docker's rule).
/// </summary>
public sealed class EventFilter
{
    private static readonly string[] Keys = ["container", "event", "type", "label"];
    private readonly Dictionary<string, List<string>> _values = [];

    public static EventFilter Parse(IEnumerable<string> texts)
    {
        var f = new EventFilter();
        foreach (var text in texts)
        {
            var eq = text.IndexOf('=');
            var key = eq < 0 ? text : text[..eq];
            if (eq <= 0 || !Keys.Contains(key))
                throw new UsageException($"invalid --filter '{text}': expected KEY=VALUE with KEY one of {string.Join(", ", Keys)}");
            if (!f._values.TryGetValue(key, out var list)) f._values[key] = list = [];
            list.Add(text[(eq + 1)..]);
        }
        return f;
    }

    /// <summary>Labels are among the event's attributes, as Docker puts them there.</summary>
    public bool Matches(ContainerEvent e)
    {
        foreach (var (key, values) in _values)
        {
            var ok = key switch
            {
                "container" => values.Any(v => v.Length > 0 && (e.Id.StartsWith(v, StringComparison.Ordinal) || e.Attributes.GetValueOrDefault("name") == v)),
                "event" => values.Any(v => v == e.Action || (v is "exec_create" or "exec_start" or "health_status" && e.Action.StartsWith(v + ": ", StringComparison.Ordinal))),
                "type" => values.Contains("container"),
                _ => values.All(v => v.Split('=', 2) is var kv && e.Attributes.TryGetValue(kv[0], out var have) && (kv.Length == 1 || have == kv[1])),
            };
            if (!ok) return false;
        }
        return true;
    }
}
