using System.Runtime.InteropServices;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;

namespace CrateRun.Linux.Cgroups;

/// <summary>Loads the v2 device program (DeviceFilterProgram) and attaches it to a cgroup.</summary>
public static unsafe class DeviceFilter
{
    private const int BpfProgLoad = 5, BpfProgAttach = 8;
    private const uint ProgTypeCgroupDevice = 15, AttachCgroupDevice = 6, AllowMulti = 2;

    private static int Load(ulong[] program, int logSize, out string log)
    {
        var license = "Apache-2.0\0"u8;
        var logBuf = new byte[Math.Max(logSize, 1)];
        fixed (ulong* insns = program)
        fixed (byte* lic = license)
        fixed (byte* logPtr = logBuf)
        {
            var attr = new Interop.Sys.BpfProgLoadAttr
            {
                ProgType = ProgTypeCgroupDevice, InsnCnt = (uint)program.Length, Insns = (ulong)insns, License = (ulong)lic,
                LogLevel = logSize > 0 ? 1u : 0, LogSize = (uint)logSize, LogBuf = logSize > 0 ? (ulong)logPtr : 0,
            };
            var fd = (int)Interop.Sys.syscall_bpf(Interop.Sys.SYS_bpf, BpfProgLoad, &attr, (uint)sizeof(Interop.Sys.BpfProgLoadAttr));
            log = logSize > 0 ? System.Text.Encoding.ASCII.GetString(logBuf).TrimEnd('\0') : "";
            return fd;
        }
    }

    public static void Attach(string cgroupDir, IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        var program = DeviceFilterProgram.Build(rules);
        // without a verifier log first (a log too small for the verifier fails the load); with one to explain a failure
        var progFd = Load(program, logSize: 0, out _);
        if (progFd < 0)
        {
            var err = Marshal.GetLastPInvokeError();
            Load(program, logSize: 1 << 20, out var verifier);
            var last = verifier.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
            throw new SyscallException("bpf", $"BPF_PROG_LOAD device filter{(last.Length > 0 ? ": " + last : "")}", err);
        }
        using var prog = new SafeFd(progFd);
        using var dir = new SafeFd(Interop.Check(Interop.Sys.open(cgroupDir, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "open", cgroupDir));
        var attach = new Interop.Sys.BpfProgAttachAttr { TargetFd = (uint)dir.Fd, AttachBpfFd = (uint)prog.Fd, AttachType = AttachCgroupDevice, AttachFlags = AllowMulti };
        if (Interop.Sys.syscall_bpf(Interop.Sys.SYS_bpf, BpfProgAttach, &attach, (uint)sizeof(Interop.Sys.BpfProgAttachAttr)) < 0)
            throw new SyscallException("bpf", $"BPF_PROG_ATTACH device filter to {cgroupDir}", Marshal.GetLastPInvokeError());
    }
}
