namespace CrateRun.Core;

/// <summary>
/// Exit codes of the craterun command, as Docker uses them (documented in the README).
/// </summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The runtime itself failed: bad input, a failed syscall, an unknown container.</summary>
    public const int RuntimeError = 125;
    /// <summary>The command exists in the container but cannot be executed.</summary>
    public const int NotExecutable = 126;
    /// <summary>The command was not found in the container.</summary>
    public const int NotFound = 127;
    /// <summary>Usage errors of the OCI face (runc exits 1 on any error).</summary>
    public const int OciError = 1;
}

/// <summary>An error meant for the user: one line, and the exit code to leave with.</summary>
public class CrateRunException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Bad input from the user (flags, paths, ids).</summary>
public sealed class UsageException(string message) : CrateRunException(message);
