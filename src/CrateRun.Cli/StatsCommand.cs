using System.CommandLine;
using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Docker;
using CrateRun.Linux.Engine;

namespace CrateRun.Cli;

/// <summary>craterun stats: Docker's live table of CPU %, memory and pids per container (the engine reads the cgroups).</summary>
public static class StatsCommand
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    public static Command Create()
    {
        var noStream = new Option<bool>("--no-stream") { Description = "Print one reading and exit (default: refresh until interrupted)" };
        var format = new Option<string?>("--format") { Description = "table (default) or json (one JSON object per container and line)" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.ZeroOrMore, Description = "Containers to read (default: every running one)" };
        var cmd = new Command("stats", "Display a live stream of container(s) resource usage statistics") { noStream, format, ids };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var fmt = p.GetValue(format) ?? "table";
            if (fmt is not ("table" or "json")) throw new UsageException($"invalid --format \"{fmt}\": table or json");
            var engine = DockerCli.Engine(p);
            var named = p.GetValue(ids) ?? [];
            var hostMemory = ContainerEngine.HostMemoryBytes();
            while (true)
            {
                // named containers must be running (an error naming one that is not); without names, every running one
                var targets = named.Length > 0
                    ? named.Select(n => (Id: engine.Store.Resolve(n), Name: engine.Store.Load(engine.Store.Resolve(n)).Name)).ToList()
                    : [.. engine.RunningContainers().Select(r => (r.Id, r.Name))];
                var before = targets.Select(t => engine.SampleStats(t.Id)).ToList();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                Thread.Sleep(Interval);
                var rows = targets.Select((t, i) => StatsRow.From(t.Id, t.Name, before[i], engine.SampleStats(t.Id), clock.Elapsed, hostMemory)).ToList();
                if (!p.GetValue(noStream) && fmt == "table" && !Console.IsOutputRedirected) Console.Write("\u001b[2J\u001b[H");
                Print(rows, fmt);
                if (p.GetValue(noStream)) return 0;
            }
        }));
        return cmd;
    }

    private static void Print(List<StatsRow> rows, string format)
    {
        if (format == "json")
        {
            foreach (var r in rows) Console.WriteLine(JsonSerializer.Serialize(new StatsJson(r), CliJson.Default.StatsJson));
            return;
        }
        Console.Write(Table.Format(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"],
            rows.Select(r => new[] { r.Id, r.Name, r.CpuPerc, r.MemUsage, r.MemPerc, r.Pids })));
    }
}

/// <summary>Docker's `stats --format json` object (its field names; the I/O fields we do not measure are left out).</summary>
public sealed class StatsJson(StatsRow row)
{
    [System.Text.Json.Serialization.JsonPropertyName("ID")] public string Id { get; } = row.Id;
    [System.Text.Json.Serialization.JsonPropertyName("Container")] public string Container { get; } = row.Id;
    [System.Text.Json.Serialization.JsonPropertyName("Name")] public string Name { get; } = row.Name;
    [System.Text.Json.Serialization.JsonPropertyName("CPUPerc")] public string CpuPerc { get; } = row.CpuPerc;
    [System.Text.Json.Serialization.JsonPropertyName("MemUsage")] public string MemUsage { get; } = row.MemUsage;
    [System.Text.Json.Serialization.JsonPropertyName("MemPerc")] public string MemPerc { get; } = row.MemPerc;
    [System.Text.Json.Serialization.JsonPropertyName("PIDs")] public string Pids { get; } = row.Pids;
}

/// <summary>craterun cp: Docker's copy between a container (CONTAINER:PATH) and the host; the Linux layer resolves paths inside the container.</summary>
public static class CopyCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("SRC");
        var destination = new Argument<string>("DEST");
        var cmd = new Command("cp", "Copy files/folders between a container and the local filesystem: cp CONTAINER:SRC DEST, cp SRC CONTAINER:DEST; DEST - writes a tar stream to stdout, SRC - extracts one from stdin into a directory") { source, destination };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var a = CopyArguments.Parse(p.GetValue(source)!, p.GetValue(destination)!);
            var engine = DockerCli.Engine(p);
            var id = engine.Store.Resolve(a.Container);
            // "-": a tar stream on stdin or stdout instead of a host path, as Docker's cp
            if (a.IntoContainer && a.HostPath == "-")
            {
                using var stdin = Console.OpenStandardInput();
                engine.CopyInTar(id, stdin, a.ContainerPath);
            }
            else if (a.IntoContainer) engine.CopyIn(id, a.HostPath, a.ContainerPath);
            else if (a.HostPath == "-")
            {
                using var stdout = Console.OpenStandardOutput();
                engine.CopyOutTar(id, a.ContainerPath, stdout);
            }
            else engine.CopyOut(id, a.ContainerPath, a.HostPath);
            return 0;
        }));
        return cmd;
    }
}
