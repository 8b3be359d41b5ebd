using System.Text.Json.Serialization;
using CrateRun.Core.Config;

namespace CrateRun.Core.Volumes;

/// <summary>
/// A named volume as `volume inspect` shows it (Docker's shape: the local driver, a Mountpoint
/// under the state root). The store keeps Name, CreatedAt and Labels in the volume's own
/// directory; Driver, Mountpoint, Options and Scope are filled in when it is shown.
/// </summary>
public sealed class VolumeInfo
{
    public string CreatedAt { get; set; } = "";
    public string Driver { get; set; } = "local";
    /// <summary>Docker prints {} for a volume without labels, never null.</summary>
    public Dictionary<string, string> Labels { get; set; } = [];
    public string Mountpoint { get; set; } = "";
    public string Name { get; set; } = "";
    public Dictionary<string, string> Options { get; set; } = [];
    public string Scope { get; set; } = "local";

    /// <summary>An anonymous volume (-v /path, --mount without source): Docker marks it with this label; rm -v and --rm remove it.</summary>
    [JsonIgnore] public bool Anonymous => Labels.ContainsKey(VolumeNames.AnonymousLabel);
}

/// <summary>The names of volumes and the annotations that tie a container to its volumes.</summary>
public static class VolumeNames
{
    /// <summary>Docker's label on anonymous volumes (Docker 23 and later; volume prune removes those by default).</summary>
    public const string AnonymousLabel = "com.docker.volume.anonymous";

    /// <summary>A container's config and record: the volumes it mounts, comma-separated (for rm -v, volume rm, prune).</summary>
    public const string VolumesAnnotation = "io.craterun.volumes";

    /// <summary>The volumes it mounts with nocopy: not populated from the image's content.</summary>
    public const string NoCopyAnnotation = "io.craterun.volumes.nocopy";

    /// <summary>The anonymous volumes made for it (-v /path): made with <see cref="AnonymousLabel"/> when it is registered.</summary>
    public const string AnonymousAnnotation = "io.craterun.volumes.anonymous";

    /// <summary>Docker's rule for a local volume's name: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters).</summary>
    public static bool IsValid(string name) =>
        name.Length is >= 2 and <= 255 && char.IsAsciiLetterOrDigit(name[0]) &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    /// <summary>Docker's error for a bad name, with its hint for someone who meant a host directory.</summary>
    public static UsageException Invalid(string name, string what) =>
        new($"invalid {what}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");

    /// <summary>A generated name (anonymous volumes, volume create without one): 64 hex characters, as Docker's.</summary>
    public static string Generate()
    {
        Span<byte> b = stackalloc byte[32];
        Random.Shared.NextBytes(b);
        return Convert.ToHexStringLower(b);
    }

    /// <summary>The annotations of a container that mounts <paramref name="requests"/> (resolved names; empty when none).</summary>
    public static Dictionary<string, string> Annotations(IEnumerable<VolumeRequest> requests)
    {
        var list = requests.ToList();
        var result = new Dictionary<string, string>();
        if (list.Count == 0) return result;
        result[VolumesAnnotation] = string.Join(',', list.Select(v => v.Name).Distinct());
        if (list.Where(v => v.NoCopy).Select(v => v.Name).Distinct().ToList() is { Count: > 0 } nocopy)
            result[NoCopyAnnotation] = string.Join(',', nocopy);
        if (list.Where(v => v.Anonymous).Select(v => v.Name).Distinct().ToList() is { Count: > 0 } anonymous)
            result[AnonymousAnnotation] = string.Join(',', anonymous);
        return result;
    }

    /// <summary>The volumes a container's annotations name.</summary>
    public static IReadOnlyList<string> UsedBy(IReadOnlyDictionary<string, string>? annotations) => Split(annotations, VolumesAnnotation);

    /// <summary>The volumes it mounts with nocopy.</summary>
    public static IReadOnlyList<string> NoCopy(IReadOnlyDictionary<string, string>? annotations) => Split(annotations, NoCopyAnnotation);

    /// <summary>The anonymous volumes made for it.</summary>
    public static IReadOnlyList<string> AnonymousOf(IReadOnlyDictionary<string, string>? annotations) => Split(annotations, AnonymousAnnotation);

    /// <summary>Gives every anonymous request (no name) a generated name, marked <see cref="VolumeRequest.Anonymous"/>.</summary>
    public static List<VolumeRequest> Named(IEnumerable<VolumeRequest> requests) =>
        [.. requests.Select(v => v.Name is null ? v with { Name = Generate(), Anonymous = true } : v)];

    private static string[] Split(IReadOnlyDictionary<string, string>? annotations, string key) =>
        annotations?.GetValueOrDefault(key)?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
}

/// <summary>
/// A volume asked for by <c>-v NAME:/path[:ro]</c>, <c>-v /path</c> (anonymous: <see cref="Name"/>
/// null until the store names it) or <c>--mount type=volume</c>.
/// </summary>
public sealed record VolumeRequest(string? Name, string ContainerPath, bool ReadOnly, bool NoCopy = false, bool Anonymous = false);

/// <summary>Docker's -v: HOSTDIR:CTRDIR[:MODE] (a bind), NAME:CTRDIR[:MODE] (a named volume), or CTRDIR alone (an anonymous one).</summary>
public static class VolumeArgument
{
    /// <summary>A bind (<see cref="Volume"/>) or a volume request; bad input a one-line UsageException.</summary>
    public static (Volume? Bind, VolumeRequest? Named) Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 1)
        {
            if (!text.StartsWith('/')) throw new UsageException($"invalid volume '{text}': an anonymous volume needs an absolute container path");
            return (null, new VolumeRequest(null, text, false));
        }
        if (parts[0].StartsWith('/')) return (Volume.Parse(text), null); // a host directory: the bind's own rules
        if (parts.Length is > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new UsageException($"invalid volume '{text}': expected HOSTDIR:CTRDIR[:ro], NAME:CTRDIR[:ro] or CTRDIR");
        if (!VolumeNames.IsValid(parts[0])) throw VolumeNames.Invalid(parts[0], $"volume '{text}'");
        if (!parts[1].StartsWith('/')) throw new UsageException($"invalid volume '{text}': the container path '{parts[1]}' must be absolute");
        bool readOnly = false, noCopy = false;
        if (parts.Length == 3)
        {
            foreach (var mode in parts[2].Split(','))
            {
                switch (mode)
                {
                    case "ro": readOnly = true; break;
                    case "rw": readOnly = false; break;
                    case "nocopy": noCopy = true; break;
                    default: throw new UsageException($"invalid volume '{text}': mode must be ro, rw or nocopy, not '{mode}'");
                }
            }
        }
        return (null, new VolumeRequest(parts[0], parts[1], readOnly, noCopy));
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VolumeInfo))]
[JsonSerializable(typeof(List<VolumeInfo>))]
public sealed partial class VolumeJsonContext : JsonSerializerContext;
