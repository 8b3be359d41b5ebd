namespace CrateRun.Linux.Explain;

/// <summary>CLOCK_MONOTONIC in nanoseconds: the clock launch.c stamps its records with, so that steps of both sides sort together.</summary>
public static unsafe class ExplainClock
{
    public static long Now()
    {
        Interop.Explain.Timespec ts;
        _ = Interop.Explain.clock_gettime(Interop.Explain.CLOCK_MONOTONIC, &ts); // fails only for an unknown clock or a bad pointer
        return ts.Sec * 1_000_000_000L + ts.Nsec;
    }

    public static double Micros(long startNs, long endNs) => Math.Max(0, endNs - startNs) / 1000.0;
}
