using System.Text;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>craterun logs: stdout.log to stdout, stderr.log to stderr; -f follows, -t adds times.</summary>
public static class Logs
{
    public static int Print(ContainerEngine engine, string id, bool follow, int? tail, bool timestamps)
    {
        var outPath = engine.Store.PathOf(id, "stdout.log");
        var errPath = engine.Store.PathOf(id, "stderr.log");
        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        var outPos = Emit(outPath, 0, tail, timestamps, stdout);
        var errPos = Emit(errPath, 0, tail, timestamps, stderr);
        if (!follow) return 0;
        while (true)
        {
            var r = engine.Store.TryLoad(id);
            var running = r is not null && ContainerEngine.CurrentStatus(r) is ContainerStatus.Running or ContainerStatus.Created or ContainerStatus.Creating;
            var monitorAlive = r is not null && r.MonitorPid > 0 && Processes.IsAlive(r.MonitorPid, r.MonitorStartTime);
            outPos = Emit(outPath, outPos, null, timestamps, stdout);
            errPos = Emit(errPath, errPos, null, timestamps, stderr);
            if (!running && !monitorAlive) return 0;
            Thread.Sleep(50);
        }
    }

    /// <summary>Writes the log from <paramref name="from"/>, returns the new position.</summary>
    private static long Emit(string path, long from, int? tail, bool timestamps, Stream to)
    {
        byte[] data;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (f.Length <= from) return from;
            f.Position = from;
            data = new byte[f.Length - from];
            f.ReadExactly(data);
        }
        catch (FileNotFoundException) { return from; }
        var start = 0;
        if (tail is { } n) start = TailStart(data, Math.Max(0, n));
        if (!timestamps)
        {
            to.Write(data, start, data.Length - start);
        }
        else
        {
            var times = LogFile.ReadTimes(path);
            var i = start;
            while (i < data.Length)
            {
                var end = Array.IndexOf(data, (byte)'\n', i);
                end = end < 0 ? data.Length : end + 1;
                var when = TimeAt(times, from + i);
                to.Write(Encoding.ASCII.GetBytes(when.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z' ")));
                to.Write(data, i, end - i);
                i = end;
            }
        }
        to.Flush();
        return from + data.Length;
    }

    private static DateTimeOffset TimeAt(List<(long Offset, DateTimeOffset Time)> times, long offset)
    {
        var t = times.Count > 0 ? times[0].Time : DateTimeOffset.UtcNow;
        foreach (var (o, time) in times)
        {
            if (o > offset) break;
            t = time;
        }
        return t;
    }

    private static int TailStart(byte[] data, int lines)
    {
        if (lines == 0) return data.Length;
        var count = 0;
        var i = data.Length - 1;
        if (i >= 0 && data[i] == '\n') i--;
        for (; i >= 0; i--)
            if (data[i] == '\n' && ++count == lines) return i + 1;
        return 0;
    }
}
