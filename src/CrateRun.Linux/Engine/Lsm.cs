namespace CrateRun.Linux.Engine;

/// <summary>Which Linux security modules the host has enabled (for process.apparmorProfile, process.selinuxLabel, linux.mountLabel).</summary>
public static class Lsm
{
    /// <summary>AppArmor is enabled: the module says so (as runc's apparmor.IsEnabled reads it).</summary>
    public static bool AppArmorEnabled => ReadTrimmed("/sys/module/apparmor/parameters/enabled") == "Y";

    /// <summary>SELinux is enabled: selinuxfs is mounted at /sys/fs/selinux.</summary>
    public static bool SelinuxEnabled => File.Exists("/sys/fs/selinux/enforce");

    private static string? ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
