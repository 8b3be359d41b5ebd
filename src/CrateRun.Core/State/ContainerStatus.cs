namespace CrateRun.Core.State;

/// <summary>
/// Lifecycle states, and what each one allows. The rules and the refusal texts are runc's
/// (1.1), because its callers act on them: containerd's shim sends <c>kill --all ID 9</c>
/// after every exit and maps "container not running" / "does not exist" to NotFound,
/// podman looks for "does not exist". The engine asks here; no face decides on its own.
/// </summary>
public static class ContainerStatus
{
    public const string Creating = "creating";
    /// <summary>
    /// Docker's "created" (<c>craterun create</c>, or an exited container being started again):
    /// config and metadata only, no process, no cgroup. The Docker-like face shows it as "created".
    /// </summary>
    public const string Configured = "configured";
    public const string Created = "created";
    public const string Running = "running";
    /// <summary>Not stored: a created or running container whose cgroup is frozen (runc's "paused").</summary>
    public const string Paused = "paused";
    /// <summary>OCI "stopped".</summary>
    public const string Exited = "exited";
    /// <summary>
    /// Docker's "restarting": exited, and its monitor waits out the restart policy's back-off
    /// before it starts it again (OCI "stopped": no process).
    /// </summary>
    public const string Restarting = "restarting";

    /// <summary>The error text for a signal to a container that has no process to receive it.</summary>
    public const string NotRunning = "container not running";

    public static bool CanStart(string status) => status == Created;

    /// <summary>A process is there to be signalled (signal 0 included).</summary>
    public static bool CanKill(string status) => status is Created or Running or Paused;

    /// <summary>Without --force: a container with no live process, or one that never started.</summary>
    public static bool CanDelete(string status) => status is Created or Exited or Configured;

    /// <summary>runc joins a created container too; a paused one only when the caller says it knows.</summary>
    public static bool CanExec(string status, bool ignorePaused) => status is Created or Running || (status == Paused && ignorePaused);

    /// <summary>The Docker-like face's start: a container made by create, or one that has exited (Docker starts it again).</summary>
    public static bool CanStartAgain(string status) => status is Configured or Exited;

    public static bool CanPause(string status) => status is Created or Running;
    public static bool CanResume(string status) => status == Paused;

    /// <summary>The status as runtime.md names it (a paused container keeps runc's "paused").</summary>
    public static string Oci(string status) => status switch
    {
        Exited or Restarting => "stopped",
        Created or Running or Paused => status,
        _ => Creating,
    };

    public static string StartRefusal(string status) => status switch
    {
        Exited => "cannot start a container that has stopped",
        Running => "cannot start an already running container",
        Paused => "cannot start a container in the paused state",
        _ => $"cannot start a container in the {Oci(status)} state",
    };

    public static string DeleteRefusal(string id, string status) => $"cannot delete container {id} that is not stopped: {Oci(status)}";

    public static string ExecRefusal(string id, string status) => status == Paused
        ? $"container {id}: cannot exec in a paused container (use --ignore-paused to override)"
        : $"container {id} is not running: cannot exec in a {Oci(status)} container";

    public const string ResumeRefusal = "container not paused";
}
