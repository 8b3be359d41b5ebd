using System.Globalization;

namespace CrateRun.Core.Config;

/// <summary>
/// Docker's --mount: comma-separated key=value fields (type=bind|tmpfs|volume, source|src,
/// target|destination|dst, readonly|ro[=true|false], bind-propagation, tmpfs-size, tmpfs-mode,
/// volume-nocopy), turned into the model -v (<see cref="Volume"/>, <see cref="Volumes.VolumeRequest"/>)
/// and --tmpfs (PATH:OPTIONS) already use.
/// </summary>
public static class MountArgument
{
    private static readonly string[] Propagations = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

    /// <summary>A bind mount as a <see cref="Volume"/>, a tmpfs as a --tmpfs text, or a (named or anonymous) volume; bad input a one-line UsageException.</summary>
    public static (Volume? Bind, string? Tmpfs, Volumes.VolumeRequest? Named) Parse(string text)
    {
        string? type = null, source = null, target = null, propagation = null, size = null, mode = null;
        bool readOnly = false, noCopy = false, noCopySet = false;
        foreach (var field in text.Split(','))
        {
            var eq = field.IndexOf('=');
            var key = (eq < 0 ? field : field[..eq]).Trim().ToLowerInvariant();
            var value = eq < 0 ? null : field[(eq + 1)..];
            if (key.Length == 0) throw Bad(text, "empty field");
            if (key is "readonly" or "ro" or "volume-nocopy")
            {
                var flag = value?.ToLowerInvariant() switch
                {
                    null or "true" or "1" => true,
                    "false" or "0" => false,
                    _ => throw Bad(text, $"invalid value for {key}: {value}"),
                };
                if (key == "volume-nocopy") (noCopy, noCopySet) = (flag, true);
                else readOnly = flag;
                continue;
            }
            if (value is null) throw Bad(text, $"invalid field '{field}' must be a key=value pair");
            switch (key)
            {
                case "type": type = value; break;
                case "source" or "src": source = value; break;
                case "target" or "destination" or "dst": target = value; break;
                case "bind-propagation": propagation = value; break;
                case "tmpfs-size": size = value; break;
                case "tmpfs-mode": mode = value; break;
                case "volume-driver" or "volume-opt" or "volume-label" or "volume-subpath":
                    throw Bad(text, $"{key} is not supported (volumes use the local driver, without options)");
                default: throw Bad(text, $"unknown option '{key}'");
            }
        }
        type ??= "volume";
        if (string.IsNullOrEmpty(target)) throw Bad(text, "target is required");
        if (!target.StartsWith('/')) throw Bad(text, $"the target '{target}' must be absolute");
        if (noCopySet && type != "volume") throw Bad(text, "volume-nocopy is for type=volume");
        switch (type)
        {
            case "bind":
                if (size is not null || mode is not null) throw Bad(text, "tmpfs options are for type=tmpfs");
                if (string.IsNullOrEmpty(source)) throw Bad(text, "source is required for type=bind");
                if (!source.StartsWith('/')) throw Bad(text, $"the source '{source}' must be absolute");
                if (propagation is not null && !Propagations.Contains(propagation))
                    throw Bad(text, $"invalid bind-propagation '{propagation}' (one of {string.Join(", ", Propagations)})");
                return (new Volume(source, target, readOnly, propagation), null, null);
            case "tmpfs":
                if (source is not null) throw Bad(text, "source is not allowed for type=tmpfs");
                if (propagation is not null) throw Bad(text, "bind-propagation is for type=bind");
                var options = new List<string>();
                if (readOnly) options.Add("ro");
                if (size is not null) options.Add("size=" + Size(text, size).ToString(CultureInfo.InvariantCulture));
                if (mode is not null)
                {
                    try { options.Add("mode=" + Convert.ToString(Convert.ToInt32(mode, 8), 8)); }
                    catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { throw Bad(text, $"invalid tmpfs-mode '{mode}': an octal mode"); }
                }
                return (null, options.Count == 0 ? target : target + ":" + string.Join(',', options), null);
            case "volume":
                if (size is not null || mode is not null) throw Bad(text, "tmpfs options are for type=tmpfs");
                if (propagation is not null) throw Bad(text, "bind-propagation is for type=bind");
                // no source: an anonymous volume, as Docker makes one
                if (!string.IsNullOrEmpty(source) && !Volumes.VolumeNames.IsValid(source))
                    throw Bad(text, $"invalid volume name '{source}' for type=volume: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a host directory is type=bind)");
                return (null, null, new Volumes.VolumeRequest(string.IsNullOrEmpty(source) ? null : source, target, readOnly, noCopy));
            default:
                throw Bad(text, $"unknown mount type '{type}' (bind, tmpfs or volume)");
        }
    }

    /// <summary>tmpfs-size as Docker reads it (units.RAMInBytes): a number with an optional b, k, m, g (1024-based).</summary>
    private static long Size(string text, string size)
    {
        var s = size.Trim().ToLowerInvariant();
        if (s.EndsWith('b') && s.Length > 1 && !char.IsDigit(s[^2])) s = s[..^1];
        long factor = s.Length == 0 ? 1 : s[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, 'g' => 1L << 30, 't' => 1L << 40, _ => 1 };
        var digits = factor == 1 ? s.TrimEnd('b') : s[..^1];
        if (!double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n <= 0 || n * factor > long.MaxValue)
            throw Bad(text, $"invalid tmpfs-size '{size}': bytes, or a number with k, m, g");
        return (long)(n * factor);
    }

    private static UsageException Bad(string text, string why) => new($"invalid argument \"{text}\" for \"--mount\": {why}");
}
