using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>How a finished process ended, with everything it printed.</summary>
public sealed class ProcResult
{
    public required string Command { get; init; }
    public required int ExitCode { get; init; }
    public required string Stdout { get; init; }
    public required string Stderr { get; init; }
    public required bool TimedOut { get; init; }
    public required TimeSpan Elapsed { get; init; }
    /// <summary>For <c>run</c>: the container id read from the --cidfile the fixture adds (null if none was written).</summary>
    public string? Id { get; set; }

    /// <summary>Stderr's non-empty lines.</summary>
    public string[] ErrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    public string[] OutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() =>
        $"$ {Command}\n-> exit {ExitCode}{(TimedOut ? " (TIMED OUT, killed)" : "")} after {Elapsed.TotalMilliseconds:F0} ms" +
        (Id is null ? "" : $", container {Id}") +
        $"\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}--------------";
}

/// <summary>A process started in the background; its output is collected as it comes.</summary>
public sealed class RunningProc : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new(), _err = new();
    private readonly Task _readOut, _readErr;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    public string Command { get; }

    internal RunningProc(Process p, string command)
    {
        _p = p;
        Command = command;
        _readOut = Pump(p.StandardOutput.BaseStream, _out);
        _readErr = Pump(p.StandardError.BaseStream, _err);
    }

    public int Pid => _p.Id;
    public bool HasExited => _p.HasExited;
    public StreamWriter Stdin => _p.StandardInput;

    public string Stdout { get { lock (_out) return _out.ToString(); } }
    public string Stderr { get { lock (_err) return _err.ToString(); } }

    private static async Task Pump(Stream s, StringBuilder into)
    {
        var buf = new byte[8192];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buf.Length)];
        int n;
        while ((n = await s.ReadAsync(buf)) > 0)
        {
            var c = decoder.GetChars(buf, 0, n, chars, 0);
            lock (into) into.Append(chars, 0, c);
        }
    }

    /// <summary>Waits until stdout (or stderr) contains <paramref name="needle"/>; false on timeout or exit without it.</summary>
    public async Task<bool> WaitForOutput(string needle, TimeSpan timeout, bool stderr = false)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if ((stderr ? Stderr : Stdout).Contains(needle, StringComparison.Ordinal)) return true;
            if (_p.HasExited)
            {
                await Task.WhenAll(_readOut, _readErr);
                return (stderr ? Stderr : Stdout).Contains(needle, StringComparison.Ordinal);
            }
            await Task.Delay(20);
        }
        return false;
    }

    /// <summary>Waits for the exit; on timeout the process (and its children) is SIGKILLed.</summary>
    public async Task<ProcResult> Wait(TimeSpan timeout)
    {
        var timedOut = false;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try { await _p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                timedOut = true;
                try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await _p.WaitForExitAsync();
            }
        }
        // A child that inherited our pipes (a daemon) could keep them open: don't wait for it forever.
        await Task.WhenAny(Task.WhenAll(_readOut, _readErr), Task.Delay(TimeSpan.FromSeconds(5)));
        return new ProcResult
        {
            Command = Command,
            ExitCode = timedOut ? -1 : _p.ExitCode,
            Stdout = Stdout,
            Stderr = Stderr,
            TimedOut = timedOut,
            Elapsed = _clock.Elapsed,
        };
    }

    /// <summary>Sends a signal to the process (by its pid).</summary>
    public void Signal(int signal)
    {
        if (Native.kill(_p.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_p.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public void Dispose()
    {
        if (!_p.HasExited)
        {
            try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        _p.Dispose();
    }
}

/// <summary>Runs programs as child processes, with a timeout, stdout and stderr kept apart.</summary>
public static class Proc
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static RunningProc Start(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        return new RunningProc(p, Describe(file, psi.ArgumentList));
    }

    /// <summary>
    /// Runs to the end. <paramref name="stdin"/> is written then closed; with
    /// <paramref name="keepStdinOpen"/> it stays open until the process exits (for <c>script</c>).
    /// </summary>
    public static async Task<ProcResult> Run(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null,
        bool keepStdinOpen = false, IReadOnlyDictionary<string, string>? env = null)
    {
        using var p = Start(file, args, env);
        try
        {
            if (stdin is not null)
            {
                await p.Stdin.WriteAsync(stdin);
                await p.Stdin.FlushAsync();
            }
            if (!keepStdinOpen) p.Stdin.Close();
        }
        catch (IOException) { /* the process did not read its stdin */ }
        var r = await p.Wait(timeout ?? DefaultTimeout);
        try { p.Stdin.Close(); } catch (IOException) { }
        return r;
    }

    public static string Describe(string file, IEnumerable<string> args) => string.Join(' ', new[] { file }.Concat(args).Select(ShellQuote));

    /// <summary>Quotes a word for /bin/sh.</summary>
    public static string ShellQuote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}

internal static partial class Native
{
    public const int SIGKILL = 9, SIGTERM = 15;

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int sig);
}
