namespace CrateRun.Core.Oci;

/// <summary>
/// The ids a container process may run as. setresuid/setresgid take -1 (4294967295 as an
/// unsigned id) to mean "leave this id unchanged", so a process asked to run as uid
/// 4294967295 would silently stay root. Like runc, only 0..2147483647 is accepted, for the
/// uid, the gid and every additional gid; both faces (run/exec and an OCI config) check here.
/// </summary>
public static class UserIds
{
    /// <summary>The largest id accepted (runc's rule: a non-negative 32-bit signed integer).</summary>
    public const uint Max = int.MaxValue;

    public static bool IsValid(uint id) => id <= Max;

    /// <summary>Throws a one-line usage error naming the first id out of range.</summary>
    /// <param name="where">How the caller names the source, e.g. "process.user" or "--user '1000:4294967295'".</param>
    public static void Validate(User user, string where = "process.user")
    {
        Check(user.Uid, "uid", where);
        Check(user.Gid, "gid", where);
        foreach (var g in user.AdditionalGids ?? []) Check(g, "additional gid", where);
    }

    public static void Check(uint id, string kind, string where)
    {
        if (!IsValid(id))
            throw new UsageException($"invalid {where}: {kind} {id} is out of range (0 to {Max})");
    }
}
