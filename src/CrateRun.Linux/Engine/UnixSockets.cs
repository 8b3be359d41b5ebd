using System.Runtime.InteropServices;

namespace CrateRun.Linux.Engine;

/// <summary>Unix sockets: connecting to a console socket, passing fds with SCM_RIGHTS.</summary>
public static unsafe class UnixSockets
{
    /// <summary>Connects to a unix stream socket path, returning an fd we own.</summary>
    public static SafeFd Connect(string path)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(path);
        const int SunPathSize = 108;
        if (name.Length >= SunPathSize) throw new Core.CrateRunException($"connect to {path}: the socket path is too long");
        var fd = new SafeFd(Interop.Check(Interop.Sys.socket(Interop.Sys.AF_UNIX, Interop.Sys.SOCK_STREAM | Interop.Sys.SOCK_CLOEXEC, 0), "socket", path));
        var addr = stackalloc byte[2 + SunPathSize]; // struct sockaddr_un
        new Span<byte>(addr, 2 + SunPathSize).Clear();
        *(ushort*)addr = Interop.Sys.AF_UNIX;
        name.CopyTo(new Span<byte>(addr + 2, SunPathSize));
        if (Interop.Sys.connect(fd, addr, (uint)(2 + name.Length + 1)) != 0)
        {
            var err = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new Core.CrateRunException($"connect to {path}: {Interop.ErrorText(err)}");
        }
        return fd;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec { public void* Base; public nuint Len; }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name; public uint NameLen; public IoVec* Iov; public nuint IovLen;
        public void* Control; public nuint ControlLen; public int Flags;
    }

    private const int SolSocket = 1, ScmRights = 1, CmsgHeader = 16, CmsgSpace = 24;

    /// <summary>Sends a message, with one fd attached (SCM_RIGHTS) when fd >= 0. False if the peer is gone.</summary>
    public static bool Send(int sock, string text, int fd = -1) =>
        Send(sock, System.Text.Encoding.UTF8.GetBytes(text.Length == 0 ? " " : text), fd);

    /// <summary>Sends raw bytes, with one fd attached when fd >= 0. False if the peer is gone.</summary>
    public static bool Send(int sock, ReadOnlySpan<byte> data, int fd)
    {
        fixed (byte* d = data)
        {
            var iov = new IoVec { Base = d, Len = (nuint)data.Length };
            byte* control = stackalloc byte[CmsgSpace];
            new Span<byte>(control, CmsgSpace).Clear();
            var msg = new MsgHdr { Iov = &iov, IovLen = 1 };
            if (fd >= 0)
            {
                *(ulong*)control = CmsgHeader + sizeof(int); // cmsg_len
                *(int*)(control + 8) = SolSocket;
                *(int*)(control + 12) = ScmRights;
                *(int*)(control + CmsgHeader) = fd;
                msg.Control = control;
                msg.ControlLen = CmsgSpace;
            }
            return Interop.Sys.sendmsg(sock, &msg, 0x4000 /* MSG_NOSIGNAL */) >= 0;
        }
    }

    /// <summary>Receives one message into <paramref name="buffer"/> and the fd attached to it (-1 if none); returns its length (0 at end of stream).</summary>
    public static int ReceiveBytes(int sock, Span<byte> buffer, out int fd)
    {
        fd = -1;
        fixed (byte* data = buffer)
        {
            var iov = new IoVec { Base = data, Len = (nuint)buffer.Length };
            byte* control = stackalloc byte[CmsgSpace];
            new Span<byte>(control, CmsgSpace).Clear();
            var msg = new MsgHdr { Iov = &iov, IovLen = 1, Control = control, ControlLen = CmsgSpace };
            nint n;
            do n = Interop.Sys.recvmsg(sock, &msg, 0x40000000 /* MSG_CMSG_CLOEXEC */);
            while (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR);
            if (n < 0) return -1;
            if (msg.ControlLen >= CmsgHeader + sizeof(int) && *(int*)(control + 8) == SolSocket && *(int*)(control + 12) == ScmRights)
                fd = *(int*)(control + CmsgHeader);
            return (int)n;
        }
    }

    /// <summary>Receives one text message and the fd attached to it (-1 if none). Null at end of stream.</summary>
    public static string? Receive(int sock, out int fd)
    {
        Span<byte> data = stackalloc byte[4096];
        var n = ReceiveBytes(sock, data, out fd);
        if (n < 0) throw new SyscallException("recvmsg", null, Marshal.GetLastPInvokeError());
        if (n == 0 && fd < 0) return null;
        return System.Text.Encoding.UTF8.GetString(data[..n]);
    }
}
