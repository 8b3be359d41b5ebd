using CrateRun.Core.Oci;

namespace CrateRun.Linux.Cgroups;

/// <summary>OCI device cgroup rules as the v1 devices controller takes them.</summary>
public static class DeviceRules
{
    public sealed record V1Rule(bool Allow, string Text);

    /// <summary>
    /// The devices every container may use whatever its rules say, appended after them as
    /// runc does (libcontainer/specconv AllowedDevices): mknod of any node, the default
    /// device nodes, the pty devices and /dev/net/tun. Clients rely on it: podman sends
    /// only a deny-all rule ("a rwm") and no linux.devices, yet expects /dev/null to work.
    /// </summary>
    public static readonly IReadOnlyList<V1Rule> AlwaysAllowed =
    [
        new(true, "c *:* m"), new(true, "b *:* m"),
        new(true, "c 1:3 rwm"), new(true, "c 1:8 rwm"), new(true, "c 1:7 rwm"), new(true, "c 5:0 rwm"),
        new(true, "c 1:5 rwm"), new(true, "c 1:9 rwm"),
        new(true, "c 136:* rwm"), new(true, "c 5:2 rwm"), new(true, "c 10:200 rwm"),
    ];

    /// <summary><see cref="AlwaysAllowed"/> as OCI rules, for the v2 device program.</summary>
    public static IReadOnlyList<Core.Oci.LinuxDeviceCgroup> AlwaysAllowedOci =>
    [
        .. AlwaysAllowed.Select(r =>
        {
            var parts = r.Text.Split(' ');
            var nums = parts[1].Split(':');
            return new Core.Oci.LinuxDeviceCgroup
            {
                Allow = true, Type = parts[0], Access = parts[2],
                Major = nums[0] == "*" ? null : long.Parse(nums[0]), Minor = nums[1] == "*" ? null : long.Parse(nums[1]),
            };
        }),
    ];

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
        foreach (var r in AlwaysAllowed)
            yield return r;
    }
}
