namespace CrateRun.Linux.Engine;

/// <summary>Device nodes on the host.</summary>
public static unsafe class DeviceNodes
{
    /// <summary>Type ("c" or "b") and numbers of a device node, or null if the path is not one.</summary>
    public static (string Type, long Major, long Minor)? Stat(string path)
    {
        Interop.Sys.Stat st;
        if (Interop.Sys.stat(path, (byte*)&st) != 0) return null;
        var (mode, rdev) = (st.Mode, st.Rdev);
        var type = (mode & 0xF000) switch { 0x2000 => "c", 0x6000 => "b", _ => null };
        if (type is null) return null;
        var major = (long)(((rdev >> 32) & 0xfffff000) | ((rdev >> 8) & 0xfff));
        var minor = (long)(((rdev >> 12) & 0xffffff00) | (rdev & 0xff));
        return (type, major, minor);
    }
}
