using CrateRun.Core.Oci;

namespace CrateRun.Core.Config;

/// <summary>A range of subordinate ids: <see cref="Count"/> host ids from <see cref="Start"/>.</summary>
public sealed record SubordinateRange(uint Start, uint Count);

/// <summary>
/// /etc/subuid and /etc/subgid (subuid(5)): lines <c>OWNER:START:COUNT</c>, OWNER a login name
/// or a numeric uid. A user with a range of each (and the setuid newuidmap and newgidmap, which
/// check these files) may map them into a user namespace of its own, as podman does: its own id
/// as root, the range as ids 1 to COUNT.
/// </summary>
public static class SubordinateIds
{
    /// <summary>The first range of <paramref name="fileText"/> owned by <paramref name="userName"/> or by <paramref name="uid"/>; null when there is none.</summary>
    public static SubordinateRange? Find(string? fileText, string? userName, uint uid)
    {
        foreach (var raw in (fileText ?? "").Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var f = line.Split(':');
            if (f.Length != 3) continue;
            var owner = !string.IsNullOrEmpty(userName) && f[0] == userName || f[0] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            // a range that would reach past the last id (4294967295 is "no id") is not one newuidmap accepts either
            if (owner && uint.TryParse(f[1], out var start) && uint.TryParse(f[2], out var count) && count > 0 && (ulong)start + count <= uint.MaxValue)
                return new SubordinateRange(start, count);
        }
        return null;
    }

    /// <summary>
    /// The maps of a rootless container: the user's own uid and gid as 0, and, with a range of
    /// each, the ranges as 1..COUNT (uids and gids may differ in length). Without both ranges, the
    /// one mapping a user may write itself: its uid and gid as root, nothing else.
    /// </summary>
    public static (List<LinuxIdMapping> Uids, List<LinuxIdMapping> Gids) RootlessMaps(uint uid, uint gid, SubordinateRange? uids, SubordinateRange? gids)
    {
        List<LinuxIdMapping> u = [new() { ContainerId = 0, HostId = uid, Size = 1 }], g = [new() { ContainerId = 0, HostId = gid, Size = 1 }];
        if (uids is not null && gids is not null)
        {
            u.Add(new LinuxIdMapping { ContainerId = 1, HostId = uids.Start, Size = uids.Count });
            g.Add(new LinuxIdMapping { ContainerId = 1, HostId = gids.Start, Size = gids.Count });
        }
        return (u, g);
    }
}
