using System.Text;

namespace CrateRun.Cli;

/// <summary>Plain-text tables, columns padded to their widest cell.</summary>
public static class Table
{
    public static string Format(string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++)
                sb.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 3));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A command line shortened for a table cell.</summary>
    public static string Command(IReadOnlyList<string> args, int max = 40)
    {
        var s = string.Join(' ', args);
        return s.Length <= max ? s : s[..(max - 3)] + "...";
    }
}
