using System.Runtime.InteropServices;
using CrateRun.Core.Oci;

namespace CrateRun.Linux.Engine;

/// <summary>
/// run --init: the container's PID 1 is craterun's own init (Native/init.c: it forwards
/// signals, reaps orphans, exits with the command's status), executed from a sealed memfd.
/// </summary>
public sealed partial class ContainerEngine
{
    /// <summary>The init's sealed memfd when the config asks for it (<see cref="Core.Config.SpecBuilder.InitAnnotation"/>); null otherwise.</summary>
    private static SafeFd? InitFor(Spec spec)
    {
        if (spec.Annotations?.GetValueOrDefault(Core.Config.SpecBuilder.InitAnnotation) != "true") return null;
        var fd = Interop.Monitor.crt_init_memfd();
        if (fd < 0) throw new SyscallException("memfd_create", Process.Launcher.InitName, Marshal.GetLastPInvokeError());
        return new SafeFd(fd);
    }
}
