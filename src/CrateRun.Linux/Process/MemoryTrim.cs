using System.Globalization;

namespace CrateRun.Linux.Process;

/// <summary>
/// A monitor lives as long as its container but, after the start, only copies bytes and waits.
/// What it needed to create the container (the code of the JSON, planning and seccomp parts,
/// their heap) can leave its resident set: the garbage is collected and the executable's clean
/// file pages are handed back (MADV_PAGEOUT); they fault back in if ever used again.
/// </summary>
public static class MemoryTrim
{
    private const int MadvPageout = 21;

    public static void AfterStart()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var exe = Environment.ProcessPath;
        if (exe is null) return;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // start-end perms offset dev inode path: clean, read-only mappings of our own binary
                var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 6 || parts[5].Trim() != exe || parts[1].Contains('w')) continue;
                var range = parts[0].Split('-');
                var start = long.Parse(range[0], NumberStyles.HexNumber);
                var end = long.Parse(range[1], NumberStyles.HexNumber);
                Interop.Sys.madvise((nint)start, (nuint)(end - start), MadvPageout);
            }
        }
        catch (IOException)
        {
        }
    }
}
