using System.Diagnostics;
using System.Runtime.InteropServices;
using Sys = CrateRun.Linux.Interop.Sys;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// The kernel and libc structs the Linux layer declares in C# (Interop.Sys) against the system headers:
/// gcc prints sizeof and offsetof of each field, and every one must match the C# layout.
/// </summary>
public class KernelStructLayoutTests
{
    private const string Probe = """
        #include <stddef.h>
        #include <stdio.h>
        #include <sys/socket.h>
        #include <sys/stat.h>
        #include <sys/statfs.h>
        #include <sys/un.h>
        #include <linux/bpf.h>
        #define SIZE(t) printf(#t " %zu\n", sizeof(t))
        #define OFF(t, f) printf(#t "." #f " %zu\n", offsetof(t, f))
        int main(void) {
            SIZE(struct stat); OFF(struct stat, st_dev); OFF(struct stat, st_ino); OFF(struct stat, st_mode);
            OFF(struct stat, st_uid); OFF(struct stat, st_rdev); OFF(struct stat, st_size); OFF(struct stat, st_mtim);
            SIZE(struct statfs); OFF(struct statfs, f_type); OFF(struct statfs, f_fsid); OFF(struct statfs, f_flags);
            SIZE(struct sockaddr_un); OFF(struct sockaddr_un, sun_path);
            SIZE(struct cmsghdr); OFF(struct cmsghdr, cmsg_level); OFF(struct cmsghdr, cmsg_type);
            printf("CMSG_SPACE(int) %zu\n", (size_t)CMSG_SPACE(sizeof(int)));
            printf("CMSG_DATA %zu\n", (size_t)CMSG_LEN(0));
            SIZE(struct msghdr); OFF(struct msghdr, msg_iov); OFF(struct msghdr, msg_control); OFF(struct msghdr, msg_flags);
            SIZE(struct iovec);
            OFF(union bpf_attr, prog_type); OFF(union bpf_attr, insn_cnt); OFF(union bpf_attr, insns); OFF(union bpf_attr, license);
            OFF(union bpf_attr, log_level); OFF(union bpf_attr, log_size); OFF(union bpf_attr, log_buf);
            OFF(union bpf_attr, target_fd); OFF(union bpf_attr, attach_bpf_fd); OFF(union bpf_attr, attach_type); OFF(union bpf_attr, attach_flags);
            return 0;
        }
        """;

    private static readonly Lazy<Dictionary<string, int>> FromGcc = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("craterun-layout-");
        try
        {
            var source = Path.Combine(dir.FullName, "probe.c");
            var exe = Path.Combine(dir.FullName, "probe");
            File.WriteAllText(source, Probe);
            Run("gcc", "-o", exe, source);
            return Run(exe).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' ')).ToDictionary(p => string.Join(' ', p[..^1]), p => int.Parse(p[^1]));
        }
        finally { dir.Delete(recursive: true); }
    });

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd();
        var errors = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed: {errors}");
        return output;
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);

    public static TheoryData<string, int> CSharpLayouts() => new()
    {
        { "struct stat", Marshal.SizeOf<Sys.Stat>() },
        { "struct stat.st_dev", Offset<Sys.Stat>(nameof(Sys.Stat.Dev)) },
        { "struct stat.st_ino", Offset<Sys.Stat>(nameof(Sys.Stat.Ino)) },
        { "struct stat.st_mode", Offset<Sys.Stat>(nameof(Sys.Stat.Mode)) },
        { "struct stat.st_uid", Offset<Sys.Stat>(nameof(Sys.Stat.Uid)) },
        { "struct stat.st_rdev", Offset<Sys.Stat>(nameof(Sys.Stat.Rdev)) },
        { "struct stat.st_size", Offset<Sys.Stat>(nameof(Sys.Stat.Size)) },
        { "struct stat.st_mtim", Offset<Sys.Stat>(nameof(Sys.Stat.MTimeSec)) },
        { "struct statfs", Marshal.SizeOf<Sys.StatFs>() },
        { "struct statfs.f_type", Offset<Sys.StatFs>(nameof(Sys.StatFs.Type)) },
        { "struct statfs.f_fsid", Offset<Sys.StatFs>(nameof(Sys.StatFs.FsId)) },
        { "struct statfs.f_flags", Offset<Sys.StatFs>(nameof(Sys.StatFs.Flags)) },
        { "struct sockaddr_un", Marshal.SizeOf<Sys.SockaddrUn>() },
        { "struct sockaddr_un.sun_path", Offset<Sys.SockaddrUn>(nameof(Sys.SockaddrUn.Path)) },
        { "struct cmsghdr", Marshal.SizeOf<Sys.CmsgHdr>() },
        { "struct cmsghdr.cmsg_level", Offset<Sys.CmsgHdr>(nameof(Sys.CmsgHdr.Level)) },
        { "struct cmsghdr.cmsg_type", Offset<Sys.CmsgHdr>(nameof(Sys.CmsgHdr.Type)) },
        { "CMSG_SPACE(int)", Marshal.SizeOf<Sys.FdControlMessage>() },
        { "CMSG_DATA", Offset<Sys.FdControlMessage>(nameof(Sys.FdControlMessage.Fd)) },
        { "struct msghdr", Marshal.SizeOf<Sys.MsgHdr>() },
        { "struct msghdr.msg_iov", Offset<Sys.MsgHdr>(nameof(Sys.MsgHdr.Iov)) },
        { "struct msghdr.msg_control", Offset<Sys.MsgHdr>(nameof(Sys.MsgHdr.Control)) },
        { "struct msghdr.msg_flags", Offset<Sys.MsgHdr>(nameof(Sys.MsgHdr.Flags)) },
        { "struct iovec", Marshal.SizeOf<Sys.IoVec>() },
        { "union bpf_attr.prog_type", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.ProgType)) },
        { "union bpf_attr.insn_cnt", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.InsnCnt)) },
        { "union bpf_attr.insns", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.Insns)) },
        { "union bpf_attr.license", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.License)) },
        { "union bpf_attr.log_level", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.LogLevel)) },
        { "union bpf_attr.log_size", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.LogSize)) },
        { "union bpf_attr.log_buf", Offset<Sys.BpfProgLoadAttr>(nameof(Sys.BpfProgLoadAttr.LogBuf)) },
        { "union bpf_attr.target_fd", Offset<Sys.BpfProgAttachAttr>(nameof(Sys.BpfProgAttachAttr.TargetFd)) },
        { "union bpf_attr.attach_bpf_fd", Offset<Sys.BpfProgAttachAttr>(nameof(Sys.BpfProgAttachAttr.AttachBpfFd)) },
        { "union bpf_attr.attach_type", Offset<Sys.BpfProgAttachAttr>(nameof(Sys.BpfProgAttachAttr.AttachType)) },
        { "union bpf_attr.attach_flags", Offset<Sys.BpfProgAttachAttr>(nameof(Sys.BpfProgAttachAttr.AttachFlags)) },
    };

    [Theory]
    [MemberData(nameof(CSharpLayouts))]
    public void Matches_the_system_headers(string what, int csharp) => Assert.Equal(FromGcc.Value[what], csharp);

    [Fact]
    public void Every_line_gcc_prints_is_checked() =>
        Assert.Equal(FromGcc.Value.Keys.Order(StringComparer.Ordinal), CSharpLayouts().Select(row => (string)row[0]).Order(StringComparer.Ordinal));
}
