using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>OCI device cgroup rules as the v1 devices controller takes them.</summary>
public static class DeviceRules
{
    public sealed record V1Rule(bool Allow, string Text);

    public static IEnumerable<V1Rule> V1(IEnumerable<LinuxDeviceCgroup> rules)
    {
        foreach (var r in rules)
        {
            var type = string.IsNullOrEmpty(r.Type) ? "a" : r.Type;
            var major = r.Major is { } ma and >= 0 ? ma.ToString() : "*";
            var minor = r.Minor is { } mi and >= 0 ? mi.ToString() : "*";
            var access = string.IsNullOrEmpty(r.Access) ? "rwm" : r.Access;
            yield return new V1Rule(r.Allow, type == "a" ? "a" : $"{type} {major}:{minor} {access}");
        }
    }
}
