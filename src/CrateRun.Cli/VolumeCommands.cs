using System.CommandLine;
using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Docker;
using CrateRun.Core.Volumes;

namespace CrateRun.Cli;

/// <summary>`craterun volume create|ls|rm|inspect|prune`: Docker's commands and output; the store is the Linux layer's (VolumeStore).</summary>
public static class VolumeCommands
{
    public static Command Volume()
    {
        var cmd = new Command("volume", "Manage volumes (Docker's local driver: directories under ROOT/volumes)")
        {
            Create(), List(), Remove(), Inspect(), Prune(),
        };
        return cmd;
    }

    private static Command Create()
    {
        var label = new Option<string[]>("--label", "-l") { Description = "Set a label on the volume: KEY[=VALUE]" };
        var name = new Argument<string?>("name") { Description = "The volume's name (default: generated)", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("create", "Create a volume (an existing one of that name is kept)") { label, name };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var labels = KeyValueFiles.ParseLabels([], p.GetValue(label) ?? []);
            var v = DockerCli.Engine(p).Volumes.Create(p.GetValue(name), labels);
            Console.WriteLine(v.Name);
            return 0;
        }));
        return cmd;
    }

    private static Command List()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only print volume names" };
        var format = new Option<string>("--format") { Description = "table, json (one object per line, as Docker), or a Go template: '{{.Name}} {{.Mountpoint}}'", DefaultValueFactory = _ => "table" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "dangling=true|false, name=TEXT, label=KEY[=VALUE], driver=local" };
        var cmd = new Command("ls", "List volumes") { quiet, format, filter };
        cmd.Aliases.Add("list");
        cmd.SetAction(p => Program.Guard(() =>
        {
            var filters = VolumeFilter.Parse(p.GetValue(filter) ?? [], forPrune: false);
            var formatText = p.GetValue(format)!;
            var template = formatText is "table" or "json" ? null : GoTemplate.Parse(formatText, VolumeFilter.Fields.Keys);
            var engine = DockerCli.Engine(p);
            var store = engine.Volumes;
            var records = engine.Store.List();
            var rows = store.List().Select(v => (Volume: v, Links: Linux.Volumes.VolumeStore.UsersOf(v.Name, records).Count)).Where(x => filters.Matches(x.Volume, x.Links > 0)).ToList();
            if (p.GetValue(quiet))
            {
                foreach (var (v, _) in rows) Console.WriteLine(v.Name);
            }
            else if (template is not null)
            {
                var lines = new List<string>();
                if (template.IsTable) lines.Add(template.Header(VolumeFilter.Fields));
                foreach (var (v, links) in rows)
                    lines.Add(template.Render(f => VolumeFilter.Field(v, f, links), l => v.Labels.GetValueOrDefault(l) ?? "", f => f is null ? RowJson(v, links) : JsonString(VolumeFilter.Field(v, f, links))));
                Console.Write(template.IsTable ? GoTemplate.Align(lines) : string.Concat(lines.Select(l => l + "\n")));
            }
            else if (formatText == "json")
            {
                foreach (var (v, links) in rows) Console.WriteLine(RowJson(v, links));
            }
            else
            {
                Console.Write(GoTemplate.Align(["DRIVER\tVOLUME NAME", .. rows.Select(x => $"{x.Volume.Driver}\t{x.Volume.Name}")]));
            }
            return 0;
        }));
        return cmd;
    }

    private static Command Remove()
    {
        var force = new Option<bool>("--force", "-f") { Description = "No error for a volume that does not exist (one in use is still kept)" };
        var names = new Argument<string[]>("volume") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("rm", "Remove volumes (refused while a container, even a stopped one, uses it)") { force, names };
        cmd.Aliases.Add("remove");
        cmd.SetAction(p =>
        {
            var store = DockerCli.Engine(p).Volumes;
            var rc = 0;
            foreach (var name in p.GetValue(names)!)
            {
                var one = Program.Guard(() =>
                {
                    if (store.Remove(name, p.GetValue(force))) Console.WriteLine(name);
                    return 0;
                });
                if (one != 0) rc = one;
            }
            return rc;
        });
        return cmd;
    }

    private static Command Inspect()
    {
        var names = new Argument<string[]>("volume") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("inspect", "Show volumes as JSON (Docker's shape)") { names };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var store = DockerCli.Engine(p).Volumes;
            var list = p.GetValue(names)!.Select(store.Get).ToList(); // an unknown one: nothing printed, one line, 125
            using var stdout = Console.OpenStandardOutput();
            using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, IndentSize = 4, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                JsonSerializer.Serialize(writer, list, VolumeJsonContext.Default.ListVolumeInfo);
            stdout.Write("\n"u8);
            return 0;
        }));
        return cmd;
    }

    private static Command Prune()
    {
        var all = new Option<bool>("--all", "-a") { Description = "Named volumes too (default: anonymous ones only, as Docker 23 and later)" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var filter = new Option<string[]>("--filter") { Description = "label=KEY[=VALUE], label!=KEY[=VALUE], all=true" };
        var cmd = new Command("prune", "Remove volumes no container uses") { all, force, filter };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var filters = VolumeFilter.Parse(p.GetValue(filter) ?? [], forPrune: true);
            var everything = p.GetValue(all) || filters.All;
            if (!p.GetValue(force))
            {
                Console.Write(everything
                    ? "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
                    : "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                if (Console.ReadLine()?.Trim() is not ("y" or "Y" or "yes")) return 0;
            }
            var (names, bytes) = DockerCli.Engine(p).Volumes.Prune(v => (everything || v.Anonymous) && filters.Matches(v, inUse: false));
            if (names.Count > 0)
            {
                Console.WriteLine("Deleted Volumes:");
                foreach (var n in names) Console.WriteLine(n);
                Console.WriteLine();
            }
            Console.WriteLine("Total reclaimed space: " + PsView.Bytes(bytes));
            return 0;
        }));
        return cmd;
    }

    /// <summary>One ls row as Docker's `volume ls --format json` prints it (strings; N/A where local volumes have no value).</summary>
    private static string RowJson(VolumeInfo v, int links)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("Availability", "N/A");
            w.WriteString("Driver", v.Driver);
            w.WriteString("Group", "N/A");
            w.WriteString("Labels", VolumeFilter.Field(v, "Labels", links));
            w.WriteString("Links", VolumeFilter.Field(v, "Links", links));
            w.WriteString("Mountpoint", v.Mountpoint);
            w.WriteString("Name", v.Name);
            w.WriteString("Scope", v.Scope);
            w.WriteString("Size", "N/A");
            w.WriteString("Status", "N/A");
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string JsonString(string s) => JsonSerializer.Serialize(s, CliJson.Default.String);
}
