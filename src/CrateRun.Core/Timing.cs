namespace CrateRun.Core;

/// <summary>With CRATERUN_TIMING=1, prints how long each phase took (wall clock, ms modulo 100 s) to stderr.</summary>
public static class Timing
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("CRATERUN_TIMING") == "1";

    public static void Mark(string what)
    {
        if (!Enabled) return;
        var ms = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10_000.0 % 100_000;
        Console.Error.WriteLine($"[timing {Environment.ProcessId}] {ms,7:F1} ms  {what}");
    }
}
