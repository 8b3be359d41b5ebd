using System.Globalization;

namespace CrateRun.Core.Images;

/// <summary>Sizes and ages as `docker images` prints them (go-units HumanSize and HumanDuration).</summary>
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

    /// <summary>"Less than a second", "About a minute", "3 hours", "2 weeks"...</summary>
    public static string Duration(TimeSpan d)
    {
        var seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        var minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        var hours = (long)Math.Round(d.TotalHours);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{(long)(d.TotalHours / 24 / 365)} years";
    }
}
