using System.Text.Json;

namespace CrateRun.Core.Images;

/// <summary>
/// The Dockerfile instructions `import --change` takes: CMD, ENTRYPOINT (JSON or shell form),
/// ENV K=V, EXPOSE PORT[/PROTO]..., WORKDIR, USER, LABEL K=V, STOPSIGNAL. Shell form runs under /bin/sh -c, as in a Dockerfile.
/// </summary>
public static class ImportChanges
{
    public static void Apply(ContainerConfig config, string change)
    {
        var text = change.Trim();
        var space = text.IndexOfAny([' ', '\t']);
        if (space < 0) throw new UsageException($"invalid --change '{change}': expected INSTRUCTION ARGUMENTS");
        var instruction = text[..space].ToUpperInvariant();
        var args = text[(space + 1)..].Trim();
        switch (instruction)
        {
            case "CMD": config.Cmd = Command(args, change); break;
            case "ENTRYPOINT": config.Entrypoint = Command(args, change); break;
            case "WORKDIR": config.WorkingDir = args; break;
            case "USER": config.User = args; break;
            case "STOPSIGNAL": config.StopSignal = args; break;
            case "EXPOSE":
                // as Docker writes it: one "PORT/PROTO" key per port, tcp when none is given
                foreach (var port in args.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    var key = port.Contains('/') ? port.ToLowerInvariant() : port + "/tcp";
                    var parts = key.Split('/');
                    if (parts.Length != 2 || !ushort.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n == 0
                        || parts[1] is not ("tcp" or "udp" or "sctp"))
                        throw new UsageException($"invalid --change '{change}': '{port}' is not PORT[/tcp|udp|sctp]");
                    (config.ExposedPorts ??= [])[key] = new EmptyObject();
                }
                break;
            case "ENV":
                {
                    var (k, v) = KeyValue(args, change);
                    config.Env ??= [];
                    config.Env.RemoveAll(e => e.Split('=')[0] == k);
                    config.Env.Add($"{k}={v}");
                    break;
                }
            case "LABEL":
                {
                    var (k, v) = KeyValue(args, change);
                    (config.Labels ??= [])[k] = v;
                    break;
                }
            default:
                throw new UsageException($"invalid --change '{change}': {instruction} is not supported (CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, USER, LABEL, STOPSIGNAL are)");
        }
    }

    private static List<string> Command(string args, string change)
    {
        if (args.StartsWith('['))
        {
            try
            {
                return JsonSerializer.Deserialize(args, ImportChangesJson.Default.ListString)
                    ?? throw new UsageException($"invalid --change '{change}': null command");
            }
            catch (JsonException) { throw new UsageException($"invalid --change '{change}': not a JSON array of strings"); }
        }
        return ["/bin/sh", "-c", args];
    }

    private static (string Key, string Value) KeyValue(string args, string change)
    {
        var eq = args.IndexOf('=');
        var sp = args.IndexOf(' ');
        if (eq > 0 && (sp < 0 || eq < sp)) return (args[..eq], args[(eq + 1)..].Trim('"'));
        if (sp > 0) return (args[..sp], args[(sp + 1)..].Trim());
        throw new UsageException($"invalid --change '{change}': expected KEY=VALUE");
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
internal sealed partial class ImportChangesJson : System.Text.Json.Serialization.JsonSerializerContext;
