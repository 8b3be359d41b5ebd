using System.Runtime.InteropServices;

namespace CrateRun.Linux.Explain;

/// <summary>
/// The buffer launch.c records its steps in (struct crt_trace, Native/launch.h): mapped
/// MAP_SHARED before clone, so the records the child writes are ours to read. For a container
/// it is a file in the state directory, so that `craterun-oci start` (another process) reads
/// what the process did after `create` returned; for exec, an anonymous memfd.
/// </summary>
public sealed unsafe class LaunchTrace : IDisposable
{
    public const int Capacity = 512;
    /// <summary>The file in a container's state directory.</summary>
    public const string FileName = "explain.trace";

    private Interop.Launch.TraceHeader* _header;
    private readonly nuint _length;

    private LaunchTrace(Interop.Launch.TraceHeader* header, nuint length)
    {
        _header = header;
        _length = length;
    }

    internal Interop.Launch.TraceHeader* Header => _header;

    private static nuint LengthFor(int capacity) => (nuint)(sizeof(Interop.Launch.TraceHeader) + capacity * sizeof(Interop.Launch.TraceRecord));

    /// <summary>A fresh buffer: in <paramref name="path"/>, or anonymous when null.</summary>
    public static LaunchTrace Create(string? path)
    {
        var fd = path is null
            ? Interop.Check(Interop.Sys.memfd_create("craterun-explain", 1 /* MFD_CLOEXEC */), "memfd_create", "explain")
            : Interop.Check(Interop.Sys.open(path, Interop.Sys.O_RDWR | Interop.Sys.O_CREAT | Interop.Sys.O_CLOEXEC | 0x200 /* O_TRUNC */, 0x180 /* 0600 */), "open", path);
        using var file = new SafeFd(fd);
        var length = LengthFor(Capacity);
        Interop.Check(Interop.Explain.ftruncate(fd, (long)length), "ftruncate", path ?? "explain memfd");
        var trace = new LaunchTrace(Map(fd, length, path), length);
        trace._header->Magic = Interop.Launch.TraceMagic;
        trace._header->Capacity = Capacity;
        return trace;
    }

    /// <summary>The buffer a `create --explain` left in the state directory, or null.</summary>
    public static LaunchTrace? Open(string path)
    {
        if (!File.Exists(path)) return null;
        var fd = Interop.Sys.open(path, Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0) return null;
        using var file = new SafeFd(fd);
        var length = (nuint)new FileInfo(path).Length;
        if (length < LengthFor(0)) return null;
        var trace = new LaunchTrace(Map(fd, length, path), length);
        if (trace._header->Magic != Interop.Launch.TraceMagic || LengthFor((int)trace._header->Capacity) > length)
        {
            trace.Dispose();
            return null;
        }
        return trace;
    }

    private static Interop.Launch.TraceHeader* Map(int fd, nuint length, string? path)
    {
        var p = Interop.Explain.mmap(null, length, Interop.Explain.PROT_READ | Interop.Explain.PROT_WRITE, Interop.Explain.MAP_SHARED, fd, 0);
        if (p == (void*)-1) throw new SyscallException("mmap", path ?? "explain memfd", Marshal.GetLastPInvokeError());
        return (Interop.Launch.TraceHeader*)p;
    }

    private Interop.Launch.TraceRecord* Records => (Interop.Launch.TraceRecord*)(_header + 1);

    private int Written => (int)Math.Min(Volatile.Read(ref _header->Count), _header->Capacity);

    /// <summary>Whether a record of this kind was written (the C stage reached that point).</summary>
    public bool Reached(int what)
    {
        for (var i = 0; i < Written; i++)
            if (Records[i].What == what) return true;
        return false;
    }

    /// <summary>Any record with an errno: the stage failed there.</summary>
    public bool Failed()
    {
        for (var i = 0; i < Written; i++)
            if (Records[i].Err != 0) return true;
        return false;
    }

    /// <summary>
    /// The records not shown yet, marked shown. While the process still runs (<paramref name="finishedOnly"/>),
    /// only up to the first step it has not finished (at READY it has already begun waiting for start).
    /// </summary>
    internal List<Interop.Launch.TraceRecord> TakeNew(bool finishedOnly)
    {
        var list = new List<Interop.Launch.TraceRecord>();
        var n = Written;
        var i = (int)_header->Shown;
        for (; i < n; i++)
        {
            var r = Records[i];
            if (finishedOnly && r.EndNs == 0 && r.Err == 0) break;
            list.Add(r);
        }
        _header->Shown = (uint)i;
        return list;
    }

    public void Dispose()
    {
        if (_header is null) return;
        Interop.Explain.munmap(_header, _length);
        _header = null;
    }
}
