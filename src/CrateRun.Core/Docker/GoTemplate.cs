using System.Text;
using System.Text.RegularExpressions;

namespace CrateRun.Core.Docker;

/// <summary>
/// The subset of Go's text/template that --format strings use in practice, as Docker's CLI
/// reads them: literal text; <c>{{.Field}}</c>; <c>{{.Label "key"}}</c>; <c>{{json .}}</c> and
/// <c>{{json .Field}}</c>; <c>{{upper .Field}}</c>, <c>{{lower .Field}}</c>. A leading
/// "table" prints a header row and aligns the columns; "\t" and "\n" written as two characters
/// become a tab and a newline (Docker's preFormat). Anything else is refused when parsed, before
/// any output.
/// </summary>
public sealed partial class GoTemplate
{
    private abstract record Part;
    private sealed record Text(string Value) : Part;
    private sealed record FieldRef(string Function, string Field, string? Argument) : Part;

    private readonly List<Part> _parts;

    /// <summary>A "table ..." format: a header row, columns aligned.</summary>
    public bool IsTable { get; }

    private GoTemplate(List<Part> parts, bool table)
    {
        _parts = parts;
        IsTable = table;
    }

    [GeneratedRegex(@"^\s*(?:(json|upper|lower)\s+)?\.([A-Za-z][A-Za-z0-9]*)?(?:\s+""([^""]*)"")?\s*$")]
    private static partial Regex Action();

    /// <summary>Parses <paramref name="format"/>; a field not in <paramref name="fields"/> is an error naming it.</summary>
    public static GoTemplate Parse(string format, IEnumerable<string> fields)
    {
        var known = fields.ToHashSet(StringComparer.Ordinal);
        var table = format.StartsWith("table", StringComparison.Ordinal);
        if (table) format = format["table".Length..].Trim(' ');
        format = format.Replace(@"\t", "\t").Replace(@"\n", "\n");
        var parts = new List<Part>();
        var i = 0;
        while (i < format.Length)
        {
            var open = format.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0)
            {
                parts.Add(new Text(format[i..]));
                break;
            }
            if (open > i) parts.Add(new Text(format[i..open]));
            var close = format.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new UsageException($"invalid --format '{format}': unclosed action (missing }}}})");
            var body = format[(open + 2)..close].Trim('-', ' ');
            var m = Action().Match(body);
            if (!m.Success) throw new UsageException($"invalid --format: unsupported action {{{{{body}}}}} (supported: {{{{.Field}}}}, {{{{.Label \"key\"}}}}, {{{{json .}}}})");
            var function = m.Groups[1].Value;
            var field = m.Groups[2].Value;
            var argument = m.Groups[3].Success ? m.Groups[3].Value : null;
            if (field.Length == 0 && function != "json")
                throw new UsageException("invalid --format: {{.}} is only supported as {{json .}}");
            if (field == "Label" ? argument is null : field.Length > 0 && (argument is not null || !known.Contains(field)))
                throw new UsageException(field == "Label"
                    ? "invalid --format: .Label takes a key: {{.Label \"com.example.key\"}}"
                    : $"invalid --format: can't evaluate field {field} (fields: {string.Join(", ", known.Order(StringComparer.Ordinal))})");
            parts.Add(new FieldRef(function, field, argument));
            i = close + 2;
        }
        return new GoTemplate(parts, table);
    }

    /// <summary>
    /// The text for one item: <paramref name="field"/> gives a field's text, <paramref name="label"/>
    /// a label's value, <paramref name="json"/> a JSON text for "." (whole item) or one field.
    /// </summary>
    public string Render(Func<string, string> field, Func<string, string> label, Func<string?, string> json)
    {
        var sb = new StringBuilder();
        foreach (var part in _parts)
        {
            sb.Append(part switch
            {
                Text t => t.Value,
                FieldRef { Function: "json" } f => json(f.Field.Length == 0 ? null : f.Field),
                FieldRef f => Apply(f.Function, f.Field == "Label" ? label(f.Argument!) : field(f.Field)),
                _ => "",
            });
        }
        return sb.ToString();
    }

    private static string Apply(string function, string value) => function switch
    {
        "upper" => value.ToUpperInvariant(),
        "lower" => value.ToLowerInvariant(),
        _ => value,
    };

    /// <summary>The header row of a table format: each field's header (<paramref name="headers"/>), the literal text kept.</summary>
    public string Header(IReadOnlyDictionary<string, string> headers) => Render(
        f => headers.TryGetValue(f, out var h) ? h : f.ToUpperInvariant(),
        l => "LABEL",
        f => f is null ? "" : headers.TryGetValue(f, out var h) ? h : f.ToUpperInvariant());

    /// <summary>
    /// Aligns tab-separated cells as Docker's table writer does (text/tabwriter: minimum width 10,
    /// padding 3); the last cell of a line is not padded.
    /// </summary>
    public static string Align(IEnumerable<string> lines)
    {
        var rows = lines.SelectMany(l => l.Split('\n')).Select(l => l.Split('\t')).ToList();
        var widths = new List<int>();
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length - 1; c++)
            {
                if (widths.Count <= c) widths.Add(0);
                widths[c] = Math.Max(widths[c], Math.Max(10, row[c].Length + 3));
            }
        }
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            for (var c = 0; c < row.Length; c++)
                sb.Append(c < row.Length - 1 ? row[c].PadRight(widths[c]) : row[c]);
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
