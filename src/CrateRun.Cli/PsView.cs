using System.Globalization;
using System.Text.Json;
using CrateRun.Core.Docker;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;

namespace CrateRun.Cli;

/// <summary>ps --filter and --format: records seen as Docker's rows (Core.Docker.ContainerRow), a template per row.</summary>
public static class PsView
{
    /// <summary>Docker's state word for a record whose status is current (ContainerEngine.StatusOf).</summary>
    public static string State(string status) => status switch
    {
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Exited => "exited",
        ContainerStatus.Restarting => "restarting",
        _ => "created", // configured, creating, created: no user process running yet
    };

    public static ContainerRow Row(ContainerEngine engine, ContainerRecord r) => new()
    {
        Id = r.Id,
        Name = r.Name ?? "",
        Image = r.Annotations?.GetValueOrDefault(Linux.Images.ImageRootfs.ImageAnnotation) ?? r.Rootfs,
        Command = r.Command,
        Created = r.Created,
        Started = r.Started,
        Finished = r.Finished,
        State = State(engine.StatusOf(r)),
        ExitCode = r.ExitCode,
        Labels = r.Labels ?? [],
        Health = r.Health?.Status,
    };

    /// <summary>Prints <paramref name="rows"/> through a Go-like template (see GoTemplate), a header first for "table ...".</summary>
    public static void Print(GoTemplate template, IEnumerable<ContainerRow> rows, bool truncate)
    {
        var now = DateTimeOffset.UtcNow;
        var lines = new List<string>();
        if (template.IsTable) lines.Add(template.Header(ContainerRow.Fields));
        foreach (var row in rows)
            lines.Add(template.Render(f => row.Field(f, now, truncate), k => row.Labels.GetValueOrDefault(k, ""), f => Json(row, f, now, truncate)));
        Console.Write(template.IsTable ? GoTemplate.Align(lines) : string.Concat(lines.Select(l => l + "\n")));
    }

    /// <summary>{{json .}}: the row's fields as Docker prints them (all strings); {{json .Field}}: one quoted field.</summary>
    private static string Json(ContainerRow row, string? field, DateTimeOffset now, bool truncate)
    {
        var options = new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, options))
        {
            if (field is not null)
            {
                if (field == "Labels") WriteLabels(w, row);
                else w.WriteStringValue(row.Field(field, now, truncate));
            }
            else
            {
                w.WriteStartObject();
                foreach (var name in ContainerRow.Fields.Keys) w.WriteString(name, row.Field(name, now, truncate));
                w.WriteEndObject();
            }
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteLabels(Utf8JsonWriter w, ContainerRow row)
    {
        w.WriteStartObject();
        foreach (var (k, v) in row.Labels.OrderBy(l => l.Key, StringComparer.Ordinal)) w.WriteString(k, v);
        w.WriteEndObject();
    }

    /// <summary>Docker's sizes: 0B, 1.5kB, 12.3MB (decimal units, as go-units HumanSize).</summary>
    public static string Bytes(long n)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double v = n;
        var i = 0;
        while (v >= 1000 && i < units.Length - 1) { v /= 1000; i++; }
        return v.ToString(i == 0 ? "0" : "0.###", CultureInfo.InvariantCulture) + units[i];
    }
}
