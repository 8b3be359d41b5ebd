using CrateRun.Core.Images;
using CrateRun.Linux.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>
/// The image store's removable lock files (flock, unlinked by the holder, inode re-checked by the
/// taker) and the leases that keep a running pull's blobs and snapshots from garbage collection.
/// </summary>
public sealed class ImageStoreLocksTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("craterun-locks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Released_Lock_RemovesItsFile_AndAHeldOneRefusesTryAcquire()
    {
        var path = Path.Combine(_dir, "layer");
        using (ImageLock.Acquire(path, timeoutMs: 1000))
        {
            Assert.True(File.Exists(path));
            Assert.Null(ImageLock.TryAcquire(path));
        }
        Assert.False(File.Exists(path));
        using var again = ImageLock.TryAcquire(path);
        Assert.NotNull(again);
    }

    /// <summary>
    /// Many takers at once on a lock whose file each holder unlinks: at no moment two holders. Without
    /// the inode re-check, a taker that opened the file before the unlink locks the nameless file while
    /// another creates and locks a new one under the name.
    /// </summary>
    [Fact]
    public void ManyTakers_NeverTwoHoldersAtOnce()
    {
        var path = Path.Combine(_dir, "contended");
        var inside = 0;
        var most = 0;
        var rounds = 0;
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                using var held = ImageLock.Acquire(path, timeoutMs: 30_000);
                var now = Interlocked.Increment(ref inside);
                InterlockedMax(ref most, now);
                Thread.SpinWait(200);
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref rounds);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(8 * 300, rounds);
        Assert.Equal(1, most);
        Assert.False(File.Exists(path));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    private static string Digest(char c) => "sha256:" + new string(c, 64);

    private static void AddBlob(ImageStore store, string digest)
    {
        Directory.CreateDirectory(store.BlobsDir);
        File.WriteAllText(store.BlobPath(digest), "x");
    }

    private static void AddSnapshot(ImageStore store, string chainId) => Directory.CreateDirectory(Path.Combine(store.SnapshotPath(chainId), "etc"));

    [Fact]
    public void GarbageCollection_KeepsWhatALeaseHolds_AndCollectsItOnceTheLeaseIsReleased()
    {
        var store = new ImageStore(_dir);
        var (layer, other, chain) = (Digest('a'), Digest('b'), Digest('c'));
        AddBlob(store, layer);
        AddBlob(store, other);
        AddSnapshot(store, chain);
        var lease = store.Lease([layer], [chain]);

        store.CollectGarbage(new ImageStoreIndex(), []); // as rmi of another image does while the pull runs
        Assert.True(store.HasBlob(layer));
        Assert.True(store.HasSnapshot(chain));
        Assert.False(store.HasBlob(other));

        lease.Dispose();
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.LeasesDir));
        store.CollectGarbage(new ImageStoreIndex(), []);
        Assert.False(store.HasBlob(layer));
        Assert.False(store.HasSnapshot(chain));
    }

    [Fact]
    public void GarbageCollection_DropsTheLeaseOfAPullThatDied()
    {
        var store = new ImageStore(_dir);
        var layer = Digest('d');
        AddBlob(store, layer);
        // what a pull killed with SIGKILL leaves: its list and its lock file, nobody holding the lock
        Directory.CreateDirectory(store.LeasesDir);
        File.WriteAllText(Path.Combine(store.LeasesDir, "999999-0123456789ab"), "");
        File.WriteAllText(Path.Combine(store.LeasesDir, "999999-0123456789ab.json"), "blob " + new string('d', 64) + "\n");
        File.WriteAllText(Path.Combine(store.LeasesDir, "999998-0123456789ab"), ""); // killed before its list was written

        store.CollectGarbage(new ImageStoreIndex(), []);
        Assert.False(store.HasBlob(layer));
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.LeasesDir));
    }

    [Fact]
    public void GarbageCollection_KeepsAPartialDownloadBeingResumed_AndDropsOneWhoseBlobIsStored()
    {
        var store = new ImageStore(_dir);
        var (resuming, stored) = (Digest('e'), Digest('f'));
        AddBlob(store, stored);
        var lease = store.Lease([stored], []);
        File.WriteAllText(store.PartialPath(resuming), "half");
        File.WriteAllText(store.PartialPath(stored), "half");

        store.CollectGarbage(new ImageStoreIndex(), []);
        Assert.True(File.Exists(store.PartialPath(resuming))); // recent, no blob yet: the next pull resumes it
        Assert.False(File.Exists(store.PartialPath(stored)));
        lease.Dispose();
    }
}
