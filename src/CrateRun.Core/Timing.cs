namespace CrateRun.Core;

/// <summary>With CRATERUN_TIMING=1, prints how long each phase took (wall clock, ms modulo 100 s) to stderr.</summary>
public static class Timing
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("CRATERUN_TIMING") == "1";

    public static void Mark(string what)
    {
        if (!Enabled) return;
        var ms = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10_000.0 % 100_000;
        // a fresh stream on fd 2, not Console.Error: a monitor gets its stderr (dup2) after Console.Error would have captured it
        using var err = Console.OpenStandardError();
        err.Write(System.Text.Encoding.UTF8.GetBytes($"[timing {Environment.ProcessId}] {ms,8:F2} ms  {what}\n"));
    }
}
