using System.Globalization;

namespace CrateRun.Core.Images;

/// <summary>Sizes as `docker images` prints them (go-units HumanSize); ages are <see cref="Docker.HumanDuration"/>.</summary>
public static class HumanUnits
{
    /// <summary>Decimal units, 3 significant digits: 0B, 862kB, 4.26MB, 1.2GB.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
        double size = bytes;
        var i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }
        return size.ToString("G3", CultureInfo.InvariantCulture) + units[i];
    }
}
