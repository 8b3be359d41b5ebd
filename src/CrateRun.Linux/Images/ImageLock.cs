namespace CrateRun.Linux.Images;

/// <summary>
/// An exclusive flock on a file of the image store (a layer's download lock, a pull's lease) that
/// removes its file when released, so locks/ does not grow with every layer ever pulled.
/// <para>
/// Unlinking a lock file is safe only with both halves of the protocol: the holder unlinks the
/// file while it still holds the lock, and whoever takes the lock checks afterwards that the path
/// still names the file it locked (same device and inode). Without the check, a waiter that had
/// opened the file before the unlink would get the lock on a nameless file while a third process
/// creates and locks a new file under the name: two holders at once.
/// </para>
/// </summary>
public sealed class ImageLock : IDisposable
{
    /// <summary>EWOULDBLOCK: .NET's FileStream reports a lock held by another open file description with it.</summary>
    private const int LockHeld = 11;

    private readonly FileStream _stream;
    public string Path { get; }

    private ImageLock(FileStream stream, string path) => (_stream, Path) = (stream, path);

    /// <summary>Waits while someone else holds the lock (up to <paramref name="timeoutMs"/>).</summary>
    public static ImageLock Acquire(string path, int timeoutMs)
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        var delay = 1;
        while (true)
        {
            if (TryAcquire(path) is { } taken) return taken;
            if (Environment.TickCount64 >= deadline)
                throw new Core.CrateRunException($"{path}: still locked by another craterun after {timeoutMs / 1000} s");
            Thread.Sleep(delay);
            delay = Math.Min(delay * 2, 20);
        }
    }

    /// <summary>Takes the lock if nobody holds it; null when it is held.</summary>
    public static ImageLock? TryAcquire(string path)
    {
        while (true)
        {
            FileStream stream;
            try
            {
                // FileShare.None is flock(LOCK_EX | LOCK_NB) in .NET on Linux
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e.HResult == LockHeld)
            {
                return null;
            }
            if (NamesLockedFile(stream, path)) return new ImageLock(stream, path);
            stream.Dispose(); // the holder before us unlinked it after we opened it: lock the file the name has now
        }
    }

    /// <summary>Whether <paramref name="path"/> still names the file open in <paramref name="stream"/>.</summary>
    private static unsafe bool NamesLockedFile(FileStream stream, string path)
    {
        Interop.Sys.Stat open, named;
        Interop.Check(Interop.Sys.fstat(stream.SafeFileHandle, (byte*)&open), "fstat", path);
        if (Interop.Sys.stat(path, (byte*)&named) != 0) return false; // unlinked (ENOENT): try again
        return open.Dev == named.Dev && open.Ino == named.Ino;
    }

    /// <summary>Unlinks the file while the lock is still held, then releases it.</summary>
    public void Dispose()
    {
        try { File.Delete(Path); }
        finally { _stream.Dispose(); }
    }
}
