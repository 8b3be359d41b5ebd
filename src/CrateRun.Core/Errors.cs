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
    /// <summary>Any error of the OCI face except exec's (runc exits 1).</summary>
    public const int OciError = 1;
    /// <summary>An error of the OCI face's exec, told apart from the exec'd process's own code (runc exits 255).</summary>
    public const int OciExecError = 255;
}

/// <summary>An error meant for the user: one line, and the exit code to leave with.</summary>
public class CrateRunException(string message, int exitCode = ExitCodes.RuntimeError, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The id names no container (runc's callers look for "does not exist" in the OCI face's text).</summary>
public sealed class NoSuchContainerException(string id) : CrateRunException($"no such container: {id}")
{
    public string Id { get; } = id;
}

/// <summary>Bad input from the user (flags, paths, ids).</summary>
public sealed class UsageException(string message) : CrateRunException(message);
