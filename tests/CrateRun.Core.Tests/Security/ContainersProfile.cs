using System.Text.Json.Nodes;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Security;

/// <summary>
/// containers-common's seccomp.json (podman's default profile; the moby format with archMap and includes/excludes),
/// turned into linux.seccomp the way podman does it (containers/common pkg/seccomp: the archMap entry of the native
/// architecture with its subArchitectures; an entry is kept when its includes (caps, arches) hold and its excludes do
/// not). Shared by the unit and the integration tests.
/// </summary>
public static class ContainersProfile
{
    /// <summary>Installed with podman (golang-github-containers-common).</summary>
    public const string Path = "/usr/share/containers/seccomp.json";

    public static LinuxSeccomp ToLinuxSeccomp(string path, IReadOnlyCollection<string> caps)
    {
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: it comes with podman (apt-get install -y podman, see tests/install-prereqs.sh)");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var arches = new List<string>();
        foreach (var a in root["archMap"]?.AsArray() ?? [])
        {
            if ((string?)a!["architecture"] != "SCMP_ARCH_X86_64") continue;
            arches.Add("SCMP_ARCH_X86_64");
            arches.AddRange((a["subArchitectures"]?.AsArray() ?? []).Select(x => (string)x!));
        }
        var syscalls = new List<LinuxSyscall>();
        foreach (var e in root["syscalls"]!.AsArray())
        {
            var includes = e!["includes"]?.AsObject();
            var excludes = e["excludes"]?.AsObject();
            static string[] List(JsonObject? o, string key) => [.. (o?[key]?.AsArray() ?? []).Select(x => (string)x!)];
            if (List(includes, "caps").Any(c => !caps.Contains(c))) continue;
            if (List(includes, "arches") is { Length: > 0 } ia && !ia.Contains("amd64")) continue;
            if (List(excludes, "caps").Any(caps.Contains)) continue;
            if (List(excludes, "arches").Contains("amd64")) continue;
            syscalls.Add(new LinuxSyscall
            {
                Names = [.. e["names"]!.AsArray().Select(n => (string)n!)],
                Action = (string)e["action"]!,
                ErrnoRet = e["errnoRet"] is { } er ? (uint)er : null,
                Args = e["args"] is JsonArray args && args.Count > 0
                    ? [.. args.Select(x => new LinuxSeccompArg { Index = (uint)x!["index"]!, Op = (string)x["op"]!, Value = (ulong)x["value"]!, ValueTwo = (ulong?)x["valueTwo"] ?? 0 })]
                    : null,
            });
        }
        return new LinuxSeccomp
        {
            DefaultAction = (string)root["defaultAction"]!,
            DefaultErrnoRet = root["defaultErrnoRet"] is { } d ? (uint)d : null,
            Architectures = arches,
            Syscalls = syscalls,
        };
    }
}
