using System.Runtime.InteropServices;
using CrateRun.Core.Oci;
using CrateRun.Core.Security;

namespace CrateRun.Linux.Cgroups;

/// <summary>Loads the v2 device program (DeviceFilterProgram) and attaches it to a cgroup.</summary>
public static unsafe class DeviceFilter
{
    private const int BpfProgLoad = 5, BpfProgAttach = 8, ProgTypeCgroupDevice = 15, AttachCgroupDevice = 6, AllowMulti = 2;

    public static void Attach(string cgroupDir, IReadOnlyList<LinuxDeviceCgroup> rules)
    {
        var program = DeviceFilterProgram.Build(rules);
        var license = "Apache-2.0\0"u8;
        var log = new byte[4096];
        int progFd;
        fixed (ulong* insns = program)
        fixed (byte* lic = license)
        fixed (byte* logBuf = log)
        {
            var attr = stackalloc byte[128];
            new Span<byte>(attr, 128).Clear();
            *(uint*)attr = ProgTypeCgroupDevice;           // prog_type
            *(uint*)(attr + 4) = (uint)program.Length;     // insn_cnt
            *(ulong*)(attr + 8) = (ulong)insns;            // insns
            *(ulong*)(attr + 16) = (ulong)lic;             // license
            *(uint*)(attr + 24) = 1;                       // log_level
            *(uint*)(attr + 28) = (uint)log.Length;        // log_size
            *(ulong*)(attr + 32) = (ulong)logBuf;          // log_buf
            progFd = (int)Interop.Sys.syscall_bpf(Interop.Sys.SYS_bpf, BpfProgLoad, attr, 128);
            if (progFd < 0)
            {
                var err = Marshal.GetLastPInvokeError();
                var verifier = System.Text.Encoding.ASCII.GetString(log).TrimEnd('\0').Trim();
                throw new SyscallException("bpf", $"BPF_PROG_LOAD device filter{(verifier.Length > 0 ? ": " + verifier.Split('\n')[^1] : "")}", err);
            }
        }
        using var prog = new SafeFd(progFd);
        using var dir = new SafeFd(Interop.Check(Interop.Sys.open(cgroupDir, Interop.Sys.O_RDONLY | Interop.Sys.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0), "open", cgroupDir));
        var a = stackalloc byte[128];
        new Span<byte>(a, 128).Clear();
        *(uint*)a = (uint)dir.Fd;          // target_fd
        *(uint*)(a + 4) = (uint)prog.Fd;   // attach_bpf_fd
        *(uint*)(a + 8) = AttachCgroupDevice;
        *(uint*)(a + 12) = AllowMulti;
        if (Interop.Sys.syscall_bpf(Interop.Sys.SYS_bpf, BpfProgAttach, a, 128) < 0)
            throw new SyscallException("bpf", $"BPF_PROG_ATTACH device filter to {cgroupDir}", Marshal.GetLastPInvokeError());
    }
}
