using System.Runtime.InteropServices;

namespace CrateRun.Linux.Engine;

/// <summary>Unix sockets: connecting to a console socket, passing fds with SCM_RIGHTS.</summary>
public static unsafe class UnixSockets
{
    /// <summary>Connects to a unix stream socket path, returning an fd we own.</summary>
    public static SafeFd Connect(string path)
    {
        var name = System.Text.Encoding.UTF8.GetBytes(path);
        if (name.Length >= Interop.Sys.SockaddrUn.PathSize) throw new Core.CrateRunException($"connect to {path}: the socket path is too long");
        var fd = new SafeFd(Interop.Check(Interop.Sys.socket(Interop.Sys.AF_UNIX, Interop.Sys.SOCK_STREAM | Interop.Sys.SOCK_CLOEXEC, 0), "socket", path));
        var addr = new Interop.Sys.SockaddrUn { Family = Interop.Sys.AF_UNIX };
        name.CopyTo(new Span<byte>(addr.Path, Interop.Sys.SockaddrUn.PathSize));
        var length = (uint)(sizeof(Interop.Sys.SockaddrUn) - Interop.Sys.SockaddrUn.PathSize + name.Length + 1); // the path and its NUL
        if (Interop.Sys.connect(fd, (byte*)&addr, length) != 0)
        {
            var err = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new Core.CrateRunException($"connect to {path}: {Interop.ErrorText(err)}");
        }
        return fd;
    }

    private const int SolSocket = 1, ScmRights = 1;

    /// <summary>Sends a message, with one fd attached (SCM_RIGHTS) when fd >= 0. False if the peer is gone.</summary>
    public static bool Send(int sock, string text, int fd = -1) =>
        Send(sock, System.Text.Encoding.UTF8.GetBytes(text.Length == 0 ? " " : text), fd);

    /// <summary>Sends raw bytes, with one fd attached when fd >= 0. False if the peer is gone.</summary>
    public static bool Send(int sock, ReadOnlySpan<byte> data, int fd)
    {
        fixed (byte* d = data)
        {
            var iov = new Interop.Sys.IoVec { Base = d, Len = (nuint)data.Length };
            var control = new Interop.Sys.FdControlMessage
            {
                Header = new Interop.Sys.CmsgHdr { Len = (nuint)(sizeof(Interop.Sys.CmsgHdr) + sizeof(int)), Level = SolSocket, Type = ScmRights }, // CMSG_LEN
                Fd = fd,
            };
            var msg = new Interop.Sys.MsgHdr { Iov = &iov, IovLen = 1 };
            if (fd >= 0)
            {
                msg.Control = &control;
                msg.ControlLen = (nuint)sizeof(Interop.Sys.FdControlMessage);
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
            var iov = new Interop.Sys.IoVec { Base = data, Len = (nuint)buffer.Length };
            var control = default(Interop.Sys.FdControlMessage);
            var msg = new Interop.Sys.MsgHdr { Iov = &iov, IovLen = 1, Control = &control, ControlLen = (nuint)sizeof(Interop.Sys.FdControlMessage) };
            nint n;
            do n = Interop.Sys.recvmsg(sock, &msg, 0x40000000 /* MSG_CMSG_CLOEXEC */);
            while (n < 0 && Marshal.GetLastPInvokeError() == Interop.EINTR);
            if (n < 0) return -1;
            if (msg.ControlLen >= (nuint)(sizeof(Interop.Sys.CmsgHdr) + sizeof(int)) && control.Header is { Level: SolSocket, Type: ScmRights })
                fd = control.Fd;
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
