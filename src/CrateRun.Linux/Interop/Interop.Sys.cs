using System.Runtime.InteropServices;

namespace CrateRun.Linux;

internal static partial class Interop
{
    /// <summary>Plain libc calls (glibc 2.36), one LibraryImport each.</summary>
    internal static unsafe partial class Sys
    {
        private const string Libc = "libc";

        public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_NOCTTY = 0x100,
            O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
        public const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000;
        public const int WNOHANG = 1;
        public const int F_SETFD = 2;
        public const int SIGKILL = 9, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGWINCH = 28;
        public const short POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16, POLLNVAL = 32;

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short REvents;
        }

        /// <summary>struct rlimit: the soft (current) and hard (maximum) values.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct RlimitValues
        {
            public ulong Cur;
            public ulong Max;
        }

        [LibraryImport(Libc, SetLastError = true)] public static partial int getrlimit(int resource, RlimitValues* limit);
        [LibraryImport(Libc, SetLastError = true)] public static partial int close(int fd);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint read(int fd, byte* buf, nint count);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint read(SafeFd fd, byte* buf, nint count);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint write(int fd, byte* buf, nint count);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint write(SafeFd fd, byte* buf, nint count);
        [LibraryImport(Libc, SetLastError = true)] public static partial long lseek(SafeFd fd, long offset, int whence);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int open(string path, int flags, uint mode);
        [LibraryImport(Libc, SetLastError = true)] public static partial int dup(int fd);
        [LibraryImport(Libc, SetLastError = true)] public static partial int dup2(int fd, int newfd);
        [LibraryImport(Libc, SetLastError = true)] public static partial int dup2(SafeFd fd, int newfd);
        [LibraryImport(Libc, SetLastError = true)] public static partial int pipe2(int* fds, int flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int socketpair(int domain, int type, int protocol, int* sv);
        [LibraryImport(Libc, SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
        [LibraryImport(Libc, SetLastError = true)] public static partial int connect(SafeFd fd, byte* addr, uint addrlen);
        [LibraryImport(Libc, SetLastError = true)] public static partial int waitpid(int pid, int* status, int options);
        [LibraryImport(Libc, SetLastError = true)] public static partial int kill(int pid, int sig);
        [LibraryImport(Libc, SetLastError = true)] public static partial int pidfd_open(int pid, uint flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int pidfd_send_signal(SafeFd pidfd, int sig, void* info, uint flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int poll(PollFd* fds, nuint nfds, int timeout);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int mkfifo(string path, uint mode);
        /// <summary>renameat2's flag that swaps two existing names atomically (Linux 3.15; ext4, tmpfs, xfs, btrfs...).</summary>
        public const uint RENAME_EXCHANGE = 2;
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int statfs(string path, byte* buf);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int stat(string path, byte* buf);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fstat(SafeHandle fd, byte* buf);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial byte* realpath(string path, byte* resolved);
        [LibraryImport(Libc, SetLastError = true)] public static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
        [LibraryImport(Libc, SetLastError = true)] public static partial int ioctl(int fd, ulong request, void* arg);
        [LibraryImport(Libc, SetLastError = true)] public static partial int isatty(int fd);
        [LibraryImport(Libc, SetLastError = true)] public static partial int tcgetattr(int fd, byte* termios);
        [LibraryImport(Libc, SetLastError = true)] public static partial int tcsetattr(int fd, int action, byte* termios);
        [LibraryImport(Libc)] public static partial void cfmakeraw(byte* termios);
        [LibraryImport(Libc)] public static partial uint geteuid();
        [LibraryImport(Libc)] public static partial uint getegid();
        [LibraryImport(Libc, SetLastError = true)] public static partial int setsid();
        [LibraryImport(Libc, SetLastError = true)] public static partial nint sendmsg(int fd, void* msg, int flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint recvmsg(int fd, void* msg, int flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial int fcntl(SafeFd fd, int cmd, int arg);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int open_tree(int dirfd, string path, uint flags);
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int mount_setattr(SafeFd dirfd, string path, uint flags, void* attr, nuint size);
        [LibraryImport(Libc, SetLastError = true, EntryPoint = "syscall")] public static partial long syscall_bpf(long number, int cmd, void* attr, uint size);
        public const long SYS_bpf = 321;
        [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int memfd_create(string name, uint flags);
        [LibraryImport(Libc, SetLastError = true)] public static partial nint sendfile(SafeFd outFd, SafeFd inFd, long* offset, nint count);
        [LibraryImport(Libc, SetLastError = true)] public static partial int execve(byte* path, byte** argv, byte** envp);
        [LibraryImport(Libc)] public static partial int gettid();
        [LibraryImport(Libc)] public static partial uint getuid();
        [LibraryImport(Libc)] public static partial uint getgid();
        [LibraryImport(Libc, SetLastError = true, EntryPoint = "syscall")] public static partial long syscall_openat2(long number, SafeFd dirfd, byte* path, OpenHow* how, nuint size);
        public const long SYS_openat2 = 437;
        public const ulong RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_IN_ROOT = 0x10;

        /// <summary>struct open_how (openat2(2)).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct OpenHow { public ulong Flags; public ulong Mode; public ulong Resolve; }

        /// <summary>struct stat of x86_64 (fstat(2)).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct Stat
        {
            public ulong Dev, Ino, Nlink;
            public uint Mode, Uid, Gid;
            private readonly int _pad0;
            public ulong Rdev;
            public long Size, BlkSize, Blocks;
            public long ATimeSec, ATimeNsec, MTimeSec, MTimeNsec, CTimeSec, CTimeNsec;
            private readonly long _reserved0, _reserved1, _reserved2;
        }

        /// <summary>struct sockaddr_un.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct SockaddrUn
        {
            public const int PathSize = 108;
            public ushort Family;
            public fixed byte Path[PathSize];
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct IoVec { public void* Base; public nuint Len; }

        /// <summary>struct cmsghdr.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct CmsgHdr { public nuint Len; public int Level; public int Type; }

        /// <summary>One SCM_RIGHTS control message with one fd, padded to CMSG_SPACE(sizeof(int)).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct FdControlMessage
        {
            public CmsgHdr Header;
            public int Fd;
            private readonly int _padding;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct MsgHdr
        {
            public void* Name; public uint NameLen; public IoVec* Iov; public nuint IovLen;
            public void* Control; public nuint ControlLen; public int Flags;
        }

        /// <summary>union bpf_attr as BPF_PROG_LOAD reads it, up to log_buf (a shorter size is accepted; the rest is zero).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct BpfProgLoadAttr
        {
            public uint ProgType, InsnCnt;
            public ulong Insns, License;
            public uint LogLevel, LogSize;
            public ulong LogBuf;
        }

        /// <summary>union bpf_attr as BPF_PROG_ATTACH reads it.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct BpfProgAttachAttr { public uint TargetFd, AttachBpfFd, AttachType, AttachFlags; }

        public const uint S_IFMT = 0xF000, S_IFREG = 0x8000;

        /// <summary>struct statfs of x86_64 (statfs(2)).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct StatFs
        {
            public long Type, BlockSize;
            public ulong Blocks, BlocksFree, BlocksAvailable, Files, FilesFree;
            public ulong FsId;
            public long NameLength, FragmentSize, Flags;
            private readonly long _spare0, _spare1, _spare2, _spare3;
        }
    }
}
