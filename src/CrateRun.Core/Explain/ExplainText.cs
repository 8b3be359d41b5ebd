using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CrateRun.Core.Explain;

/// <summary>How an explain step is written: a few lines of text, or one JSON object per line.</summary>
public static class ExplainText
{
    public static string Format(ExplainEvent e, ExplainFormat format) =>
        format == ExplainFormat.Json ? Json(e) : Text(e);

    public static string Json(ExplainEvent e) => JsonSerializer.Serialize(e, ExplainJsonContext.Default.ExplainEvent) + "\n";

    /// <summary>
    /// <code>
    /// [ 4] namespaces  new namespaces for the container's first process           312 µs
    ///      clone3(flags=CLONE_NEWNS|CLONE_NEWUTS|..., exit_signal=SIGCHLD) = 4242
    ///      CLONE_NEWNS: its own mount table ...
    ///      → docs/namespaces.md
    /// </code>
    /// </summary>
    public static string Text(ExplainEvent e)
    {
        var sb = new StringBuilder();
        var head = $"[{e.Seq,3}] {e.Text}";
        var cost = e.Micros.ToString(e.Micros < 1 ? "0.0##" : e.Micros < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " µs";
        sb.Append(head);
        sb.Append(' ', Math.Max(1, 78 - head.Length - cost.Length));
        sb.Append(cost).Append('\n');
        sb.Append("      ").Append(e.Call).Append('\n');
        foreach (var why in e.Why ?? []) sb.Append("        ").Append(why).Append('\n');
        if (e.Errno is { } errno)
        {
            sb.Append("      FAILED: ").Append(e.Error ?? "error").Append(" (errno ").Append(errno).Append(")\n");
            if (e.Hint is { } hint) sb.Append("      hint: ").Append(hint).Append('\n');
        }
        sb.Append("      → ").Append(e.Docs).Append('\n');
        return sb.ToString();
    }
}
