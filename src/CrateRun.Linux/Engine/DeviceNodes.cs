namespace CrateRun.Linux.Engine;

/// <summary>Device nodes on the host.</summary>
public static unsafe class DeviceNodes
{
    /// <summary>Type ("c" or "b") and numbers of a device node, or null if the path is not one.</summary>
    public static (string Type, long Major, long Minor)? Stat(string path)
    {
        byte* st = stackalloc byte[256];
        if (Interop.Sys.stat(path, st) != 0) return null;
        var mode = *(uint*)(st + 24);   // st_mode on x86_64
        var rdev = *(ulong*)(st + 40);  // st_rdev
        var type = (mode & 0xF000) switch { 0x2000 => "c", 0x6000 => "b", _ => null };
        if (type is null) return null;
        var major = (long)(((rdev >> 32) & 0xfffff000) | ((rdev >> 8) & 0xfff));
        var minor = (long)(((rdev >> 12) & 0xffffff00) | (rdev & 0xff));
        return (type, major, minor);
    }
}
