using System.CommandLine;
using CrateRun.Core.Explain;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Explain;

namespace CrateRun.Cli;

/// <summary>
/// `--explain` and `--explain=json`: every step the runtime takes, printed to stderr as it
/// happens (never to stdout, which belongs to the container's output, or to an OCI client
/// such as `state`'s reader). "--explain=json" is its own option name, so that a bare
/// `--explain` never takes the next word (an image, a command) as its value.
/// </summary>
public static class ExplainCli
{
    public sealed record Options(Option<bool> Text, Option<bool> Json)
    {
        public ExplainFormat? Format(ParseResult p) => p.GetValue(Json) ? ExplainFormat.Json : p.GetValue(Text) ? ExplainFormat.Text : null;
    }

    public static Options Make(bool recursive = false) => new(
        new Option<bool>("--explain") { Description = "Print every step the runtime takes, with its kernel call and cost, to stderr (--explain=json: JSON lines)", Recursive = recursive },
        new Option<bool>("--explain=json") { Description = "The same as --explain, one JSON object per line", Recursive = recursive, Hidden = true });

    public static void AddTo(Command cmd, Options o)
    {
        cmd.Options.Add(o.Text);
        cmd.Options.Add(o.Json);
    }

    /// <summary>Turns explaining on for this engine, to our stderr.</summary>
    public static void Attach(ContainerEngine engine, ParseResult p, Options o)
    {
        if (o.Format(p) is { } format) Attach(engine, format);
    }

    public static void Attach(ContainerEngine engine, ExplainFormat format) => engine.Explainer = ExplainSession.ToFd(format, 2);
}
