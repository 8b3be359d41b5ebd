using System.CommandLine;
using CrateRun.Core;
using CrateRun.Core.Docker;

namespace CrateRun.Cli;

/// <summary>
/// craterun events: the containers' lifecycle events from the engine's log, in Docker's text
/// (or --format json, one object per line), filtered; without --until it follows the log.
/// </summary>
public static class EventsCommand
{
    public static Command Create()
    {
        var since = new Option<string?>("--since") { Description = "Events since: 2026-11-30T02:00:00Z, Unix seconds, or relative (10m); default: from now on" };
        var until = new Option<string?>("--until") { Description = "Events until (then exit): the same forms as --since; default: follow" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "container=ID|NAME, event=ACTION, type=container, label=KEY[=VALUE]" };
        var format = new Option<string?>("--format") { Description = "json (or '{{json .}}'): one JSON object per line, as Docker prints it" };
        var cmd = new Command("events", "Show the containers' lifecycle events (create, start, kill, die, oom, stop, restart, pause, unpause, rename, destroy, exec_create, exec_start, exec_die, health_status)") { since, until, filter, format };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var now = DateTimeOffset.UtcNow;
            var from = p.GetValue(since) is { } s ? TimeArgument.Parse(s, now, "--since") : (DateTimeOffset?)null;
            var to = p.GetValue(until) is { } u ? TimeArgument.Parse(u, now, "--until") : (DateTimeOffset?)null;
            var filters = EventFilter.Parse(p.GetValue(filter) ?? []);
            var json = p.GetValue(format) switch
            {
                null or "" => false,
                "json" or "{{json .}}" => true,
                var f => throw new UsageException($"invalid --format '{f}': only json (or '{{{{json .}}}}') is supported"),
            };
            var engine = DockerCli.Engine(p);
            long offset = 0;
            // as Docker: without --since, only what happens from now on
            if (from is null) engine.ReadEvents(ref offset);
            while (true)
            {
                foreach (var e in engine.ReadEvents(ref offset))
                {
                    if (e.Time < from || e.Time > to || !filters.Matches(e)) continue;
                    Console.Out.WriteLine(json ? e.ToDockerJson() : e.ToText());
                }
                Console.Out.Flush();
                if (to is { } end && DateTimeOffset.UtcNow > end) return 0;
                Thread.Sleep(100);
            }
        }));
        return cmd;
    }
}
