using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Pulls against <see cref="FaultRegistry"/>, a registry in the test that answers as the test says:
/// redirects to another origin (Authorization must not follow, distribution spec: blob URLs may
/// point at a CDN; RFC 9110 §15.4: a client removes credentials it would not send to the new
/// target), 429 with Retry-After and 502/503 (retried), a permanent 500 (a bounded number of tries,
/// one line), bodies cut mid-blob (resumed with Range, also by the next pull command), corrupted
/// bytes (digest error, nothing stored), a pull killed with SIGKILL; and rmi racing a pull.
/// Only 127.0.0.1 is contacted.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class RegistryFaultTests(CrateRunFixture f)
{
    private string Work(string name) => Directory.CreateDirectory(Path.Combine(f.TempBase, "fault-" + name + "-" + Guid.NewGuid().ToString("N")[..6])).FullName;

    private static string NewRoot(string dir)
    {
        var root = Path.Combine(dir, "state");
        Directory.CreateDirectory(root);
        SuiteState.StateRoots.Add(root);
        return root;
    }

    private async Task<(OciLayoutBuilder.Blob Layer, string DiffId)> BusyboxLayer(OciLayoutBuilder layout, string dir)
    {
        var tar = Path.Combine(dir, "busybox.tar");
        var r = await Proc.Run("tar", ["--numeric-owner", "-C", f.Rootfs, "-cf", tar, "."]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return await layout.AddLayer(await File.ReadAllBytesAsync(tar));
    }

    /// <summary>A gzip layer holding FILE of incompressible bytes (so a cut lands in the middle of the blob).</summary>
    private static Task<(OciLayoutBuilder.Blob Layer, string DiffId)> RandomLayer(OciLayoutBuilder layout, string file, int megabytes, int seed = 42)
    {
        var random = new byte[megabytes << 20];
        new Random(seed).NextBytes(random);
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, file) { DataStream = new MemoryStream(random), Mode = (UnixFileMode)0b110_100_100 });
        return layout.AddLayer(ms.ToArray());
    }

    private static Task<(OciLayoutBuilder.Blob Layer, string DiffId)> TextLayer(OciLayoutBuilder layout, string file, string text) =>
        layout.AddLayer(OciLayoutBuilder.Tar((TarEntryType.Directory, "data/", null), (TarEntryType.RegularFile, "data/" + file, text)));

    /// <summary>busybox + a random layer of <paramref name="megabytes"/> MB, tagged "big". Returns the layout and the big layer.</summary>
    private async Task<(OciLayoutBuilder Layout, OciLayoutBuilder.Blob Big)> BigImage(string dir, int megabytes)
    {
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var busybox = await BusyboxLayer(layout, dir);
        var big = await RandomLayer(layout, "random.bin", megabytes);
        layout.Tag(layout.AddImage([busybox, big], new JsonObject { ["Cmd"] = new JsonArray("true") }), "big");
        return (layout, big.Layer);
    }

    private static string BlobsDir(string root) => Path.Combine(root, "images", "blobs", "sha256");

    private static string[] Entries(string root, string sub)
    {
        var dir = Path.Combine(root, "images", sub);
        return Directory.Exists(dir) ? [.. Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>()] : [];
    }

    /// <summary>After a failed pull: the blob is not stored, nothing half-written in tmp/, no image listed.</summary>
    private async Task AssertNothingStored(string root, string digest)
    {
        Assert.False(File.Exists(Path.Combine(BlobsDir(root), digest[7..])), $"blob {digest} was stored");
        Assert.True(Entries(root, "tmp").Length == 0, "tmp/ holds: " + string.Join(", ", Entries(root, "tmp")));
        var images = await f.CrAt(root, null, "images", "-q");
        Assert.True(images.ExitCode == 0, images.ToString());
        Assert.Equal("", images.Stdout);
    }

    /// <summary>No lock file, lease or temporary file remains in the store.</summary>
    private static void AssertNoLockFiles(string root)
    {
        Assert.True(Entries(root, "locks").Length == 0, "locks/ holds: " + string.Join(", ", Entries(root, "locks")));
        Assert.True(Entries(root, "leases").Length == 0, "leases/ holds: " + string.Join(", ", Entries(root, "leases")));
        Assert.True(Entries(root, "tmp").Length == 0, "tmp/ holds: " + string.Join(", ", Entries(root, "tmp")));
    }

    private static void AssertBlobVerifies(string root, OciLayoutBuilder.Blob blob)
    {
        var file = Path.Combine(BlobsDir(root), blob.Digest[7..]);
        Assert.True(File.Exists(file), $"blob {blob.Digest} is not stored");
        using var s = File.OpenRead(file);
        Assert.Equal(blob.Digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(s)));
    }

    private static bool IsBlobGet(FaultRegistry.Seen r, OciLayoutBuilder.Blob blob) => r.Path.EndsWith("/blobs/" + blob.Digest, StringComparison.Ordinal);

    [RootFact]
    public async Task Redirect_ToAnotherOrigin_DropsAuthorization_SameOriginKeepsIt()
    {
        var dir = Work("redirect");
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var busybox = await BusyboxLayer(layout, dir);
        var a = await TextLayer(layout, "a", "one\n");
        var b = await TextLayer(layout, "b", "two\n");
        layout.Tag(layout.AddImage([busybox, a, b], new JsonObject { ["Cmd"] = new JsonArray("cat", "/data/a", "/data/b") }), "app");
        using var registry = new FaultRegistry(layout.Dir) { Basic = ("puller", "s3cret") };
        // busybox: another port; a: the same port under another name (localhost is not 127.0.0.1); b: the same origin
        registry.Faults = (r, _) =>
            IsBlobGet(r, busybox.Layer) ? new FaultRegistry.Fault { Status = 307, Location = $"http://127.0.0.1:{registry.BlobStorePort}/blobstore/{busybox.Layer.Digest}" }
            : IsBlobGet(r, a.Layer) ? new FaultRegistry.Fault { Status = 307, Location = $"http://localhost:{registry.Port}/blobstore/{a.Layer.Digest}" }
            : IsBlobGet(r, b.Layer) ? new FaultRegistry.Fault { Status = 307, Location = $"/blobstore/{b.Layer.Digest}" }
            : null;
        var dockerConfig = Directory.CreateDirectory(Path.Combine(dir, "docker")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dockerConfig, "config.json"), registry.DockerConfigJson());
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, new Dictionary<string, string> { ["DOCKER_CONFIG"] = dockerConfig }, "pull", $"{registry.Host}/app:app");
        Assert.True(pull.ExitCode == 0, pull + "\n" + string.Join("\n", registry.Requests.Select(r => $"{r.Port} {r.Header("Host")} {r.Path} auth={r.Header("Authorization")}")));

        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("puller:s3cret"));
        var requests = registry.Requests;
        Assert.All(requests.Where(r => r.Path.Contains("/blobs/", StringComparison.Ordinal)), r => Assert.Equal(expected, r.Header("Authorization")));
        var otherPort = Assert.Single(requests, r => r.Path == "/blobstore/" + busybox.Layer.Digest);
        Assert.Equal(registry.BlobStorePort, otherPort.Port);
        Assert.Null(otherPort.Header("Authorization"));
        var otherName = Assert.Single(requests, r => r.Path == "/blobstore/" + a.Layer.Digest);
        Assert.Equal($"localhost:{registry.Port}", otherName.Header("Host"));
        Assert.Null(otherName.Header("Authorization"));
        var sameOrigin = Assert.Single(requests, r => r.Path == "/blobstore/" + b.Layer.Digest);
        Assert.Equal($"127.0.0.1:{registry.Port}", sameOrigin.Header("Host"));
        Assert.Equal(expected, sameOrigin.Header("Authorization"));
        foreach (var layer in new[] { busybox, a, b }) AssertBlobVerifies(root, layer.Layer);
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task TooManyRequestsAndBadGateway_AreRetriedWithBackoff_AndThePullSucceeds()
    {
        var dir = Work("retry");
        var (layout, big) = await BigImage(dir, 1);
        using var registry = new FaultRegistry(layout.Dir);
        registry.Faults = (r, asked) =>
            r.Path.Contains("/manifests/", StringComparison.Ordinal) && asked == 0 ? new FaultRegistry.Fault { Status = 503 }
            : IsBlobGet(r, big) ? asked switch
            {
                0 => new FaultRegistry.Fault { Status = 429, RetryAfterSeconds = 1 },
                1 => new FaultRegistry.Fault { Status = 502 },
                2 => new FaultRegistry.Fault { Status = 503 },
                _ => null,
            }
            : null;
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/retry:big");
        Assert.True(pull.ExitCode == 0, pull.ToString());
        var gets = registry.Requests.Where(r => IsBlobGet(r, big)).OrderBy(r => r.At).ToList();
        Assert.Equal(4, gets.Count);
        Assert.True(gets[1].At - gets[0].At >= TimeSpan.FromMilliseconds(900), $"Retry-After: 1 not honoured: retried after {(gets[1].At - gets[0].At).TotalMilliseconds} ms");
        Assert.True(gets[3].At - gets[2].At > gets[2].At - gets[1].At - TimeSpan.FromMilliseconds(50), "no backoff between the 502 and 503 retries");
        AssertBlobVerifies(root, big);
        Assert.Equal(big.Size, registry.Served(big.Digest));
    }

    [RootFact]
    public async Task PermanentServerError_GivesUpAfterBoundedTries_OneLine_NothingStored()
    {
        var dir = Work("500");
        var (layout, big) = await BigImage(dir, 1);
        using var registry = new FaultRegistry(layout.Dir);
        registry.Faults = (r, _) => IsBlobGet(r, big) ? new FaultRegistry.Fault { Status = 500 } : null;
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/broken:big");
        Assert.NotEqual(0, pull.ExitCode);
        Assert.True(pull.ErrLines.Length == 1, pull.ToString());
        Assert.Contains($"blob {big.Digest}: the registry answered 500", pull.Stderr);
        var tries = registry.Requests.Count(r => IsBlobGet(r, big));
        Assert.InRange(tries, 2, 10);
        await AssertNothingStored(root, big.Digest);
        Assert.Empty(Entries(root, "partial"));
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task CutMidBlob_FirstPullFails_TheNextPullResumesWithRange_AndVerifiesTheDigest()
    {
        var dir = Work("resume");
        var (layout, big) = await BigImage(dir, 6);
        using var registry = new FaultRegistry(layout.Dir);
        // every answer for the blob is cut after 1 MiB: the pull resumes a few times, then gives up
        registry.Faults = (r, _) => IsBlobGet(r, big) ? new FaultRegistry.Fault { CutAfter = 1 << 20 } : null;
        var root = NewRoot(dir);
        var image = $"{registry.Host}/resume:big";

        var first = await f.CrAt(root, null, "pull", image);
        Assert.NotEqual(0, first.ExitCode);
        Assert.True(first.ErrLines.Length == 1, first.ToString());
        Assert.Contains($"layer {big.Digest}: download cut at", first.Stderr);
        await AssertNothingStored(root, big.Digest);
        var servedFirst = registry.Served(big.Digest);
        Assert.True(servedFirst > 0 && servedFirst < big.Size, $"served {servedFirst} of {big.Size}");

        registry.Faults = null;
        var requestsBefore = registry.Requests.Count;
        var second = await f.CrAt(root, null, "pull", image);
        Assert.True(second.ExitCode == 0, second.ToString());
        var gets = registry.Requests.Skip(requestsBefore).Where(r => IsBlobGet(r, big)).ToList();
        var get = Assert.Single(gets);
        Assert.Equal($"bytes={servedFirst}-", get.Header("Range"));
        var servedSecond = registry.Served(big.Digest) - servedFirst;
        Assert.True(servedSecond < big.Size, $"the second pull downloaded {servedSecond} bytes of a {big.Size}-byte blob");
        Assert.Equal(big.Size, servedFirst + servedSecond);
        AssertBlobVerifies(root, big);
        Assert.Empty(Entries(root, "partial"));
        AssertNoLockFiles(root);
        var images = await f.CrAt(root, null, "images", "-q");
        Assert.Single(images.OutLines);
    }

    [RootFact]
    public async Task CorruptedBlob_DigestError_NothingStored()
    {
        var dir = Work("corrupt");
        var (layout, big) = await BigImage(dir, 2);
        using var registry = new FaultRegistry(layout.Dir);
        registry.Faults = (r, _) => IsBlobGet(r, big) ? new FaultRegistry.Fault { Corrupt = (big.Size / 3, big.Size * 2 / 3) } : null;
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/corrupt:big");
        Assert.NotEqual(0, pull.ExitCode);
        Assert.True(pull.ErrLines.Length == 1, pull.ToString());
        Assert.Contains($"layer {big.Digest}: content has digest", pull.Stderr);
        await AssertNothingStored(root, big.Digest);
        Assert.Empty(Entries(root, "partial"));
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task CorruptedBytesKeptFromACutDownload_AreDiscarded_AndTheBlobDownloadedWhole()
    {
        var dir = Work("badpartial");
        var (layout, big) = await BigImage(dir, 4);
        using var registry = new FaultRegistry(layout.Dir);
        // the first pull gets flipped bytes in its first MiB, and every answer is cut after 1 MiB
        registry.Faults = (r, _) => IsBlobGet(r, big) ? new FaultRegistry.Fault { CutAfter = 1 << 20, Corrupt = (1000, 2000) } : null;
        var root = NewRoot(dir);
        var image = $"{registry.Host}/badpartial:big";

        var first = await f.CrAt(root, null, "pull", image);
        Assert.NotEqual(0, first.ExitCode);
        Assert.Contains("download cut at", first.Stderr);

        registry.Faults = null;
        var before = registry.Requests.Count;
        var second = await f.CrAt(root, null, "pull", image);
        Assert.True(second.ExitCode == 0, second.ToString());
        var gets = registry.Requests.Skip(before).Where(r => IsBlobGet(r, big)).ToList();
        Assert.Equal(2, gets.Count); // the resume (its digest fails), then the whole blob
        Assert.NotNull(gets[0].Header("Range"));
        Assert.Null(gets[1].Header("Range"));
        AssertBlobVerifies(root, big);
        Assert.Empty(Entries(root, "partial"));
    }

    [RootFact]
    public async Task Kill9_DuringAPull_TheNextPullSucceeds_AndNothingIsLeftOver()
    {
        var dir = Work("kill9");
        var (layout, big) = await BigImage(dir, 8);
        using var registry = new FaultRegistry(layout.Dir) { BytesPerSecond = 2 << 20 };
        var root = NewRoot(dir);
        var image = $"{registry.Host}/kill:big";

        using (var pull = f.StartAt(root, "pull", image))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (registry.Served(big.Digest) < (2 << 20) && clock.Elapsed < TimeSpan.FromSeconds(30) && !pull.HasExited) await Task.Delay(20);
            Assert.False(pull.HasExited, "the pull ended before it was killed:\n" + pull.Stdout + pull.Stderr);
            System.Diagnostics.Process.GetProcessById(pull.Pid).Kill(); // SIGKILL
            var killed = await pull.Wait(TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, killed.ExitCode);
        }
        var images = await f.CrAt(root, null, "images");
        Assert.True(images.ExitCode == 0, images.ToString());
        Assert.Single(images.OutLines); // the header only
        Assert.False(File.Exists(Path.Combine(BlobsDir(root), big.Digest[7..])));

        registry.BytesPerSecond = 0;
        var servedBefore = registry.Served(big.Digest);
        var before = registry.Requests.Count;
        var again = await f.CrAt(root, null, "pull", image);
        Assert.True(again.ExitCode == 0, again.ToString());
        var get = Assert.Single(registry.Requests.Skip(before), r => IsBlobGet(r, big));
        Assert.StartsWith("bytes=", get.Header("Range"));
        Assert.True(registry.Served(big.Digest) - servedBefore < big.Size);
        AssertBlobVerifies(root, big);
        Assert.Single((await f.CrAt(root, null, "images", "-q")).OutLines);
        Assert.Empty(Entries(root, "partial"));
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task ThreePullsAtOnce_DownloadEachLayerOnce_AndLeaveNoLockFiles()
    {
        var dir = Work("three");
        var (layout, big) = await BigImage(dir, 3);
        using var registry = new FaultRegistry(layout.Dir) { BytesPerSecond = 6 << 20 };
        var root = NewRoot(dir);
        var image = $"{registry.Host}/three:big";

        using var p1 = f.StartAt(root, "pull", image);
        using var p2 = f.StartAt(root, "pull", image);
        using var p3 = f.StartAt(root, "pull", image);
        foreach (var p in new[] { p1, p2, p3 })
        {
            var r = await p.Wait(TimeSpan.FromSeconds(90));
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        Assert.Equal(big.Size, registry.Served(big.Digest));
        AssertBlobVerifies(root, big);
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task Rmi_WhileAPullOfAnImageSharingLayersRuns_TheFinishedPullHasAllItsLayers()
    {
        var dir = Work("rmirace");
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var busybox = await BusyboxLayer(layout, dir);
        var x = await TextLayer(layout, "x", "ex\n");
        var y = await TextLayer(layout, "y", "why\n");
        var z = await RandomLayer(layout, "z.bin", 6);
        layout.Tag(layout.AddImage([busybox, x], new JsonObject { ["Cmd"] = new JsonArray("cat", "/data/x") }), "a");
        layout.Tag(layout.AddImage([busybox, y, z], new JsonObject { ["Cmd"] = new JsonArray("cat", "/data/y") }), "c");
        using var registry = new FaultRegistry(layout.Dir);
        var root = NewRoot(dir);
        var a = $"{registry.Host}/race:a";
        var c = $"{registry.Host}/race:c";

        var pullA = await f.CrAt(root, null, "pull", a);
        Assert.True(pullA.ExitCode == 0, pullA.ToString());
        // c shares busybox with a (stored, only a names it) and stores y long before z arrives
        registry.BytesPerSecond = 2 << 20;
        using (var pullC = f.StartAt(root, "pull", c))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while ((registry.Served(z.Layer.Digest) < (1 << 20) || registry.Served(y.Layer.Digest) < y.Layer.Size)
                   && clock.Elapsed < TimeSpan.FromSeconds(30) && !pullC.HasExited) await Task.Delay(20);
            Assert.False(pullC.HasExited, "the pull ended before rmi ran:\n" + pullC.Stdout + pullC.Stderr);
            var rmi = await f.CrAt(root, null, "rmi", a);
            Assert.True(rmi.ExitCode == 0, rmi.ToString());
            var done = await pullC.Wait(TimeSpan.FromSeconds(60));
            Assert.True(done.ExitCode == 0, done.ToString());
        }
        foreach (var layer in new[] { busybox, y, z }) AssertBlobVerifies(root, layer.Layer);
        Assert.False(File.Exists(Path.Combine(BlobsDir(root), x.Layer.Digest[7..])), "the layer only a used was not collected");
        var run = await f.CrAt(root, null, "run", "--rm", "--pull", "never", c);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("why", run.Stdout.Trim());
        // the next garbage collection (no pull running) keeps what c uses
        var prune = await f.CrAt(root, null, "image", "prune");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        foreach (var layer in new[] { busybox, y, z }) AssertBlobVerifies(root, layer.Layer);
        AssertNoLockFiles(root);
    }

    [RootFact]
    public async Task RunAndCreate_Platform_PickFromTheIndex_AndAMissingPlatformIsOneLine()
    {
        var dir = Work("platform");
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var busybox = await BusyboxLayer(layout, dir);
        // both images run here (the same busybox); only their configs name different platforms
        var amd64 = layout.AddImage([busybox], new JsonObject { ["Cmd"] = new JsonArray("echo", "amd") });
        var arm64 = layout.AddImage([busybox], new JsonObject { ["Cmd"] = new JsonArray("echo", "arm") }, architecture: "arm64");
        layout.Tag(layout.AddIndex((amd64, "linux", "amd64"), (arm64, "linux", "arm64")), "multi");
        using var registry = new FaultRegistry(layout.Dir);
        var root = NewRoot(dir);
        var image = $"{registry.Host}/multi:multi";

        var arm = await f.CrAt(root, null, "run", "--rm", "--platform", "linux/arm64", image);
        Assert.True(arm.ExitCode == 0, arm.ToString());
        Assert.Equal("arm", arm.Stdout.Trim());

        // the stored image is arm64: amd64 is pulled for a run that asks for it
        var amd = await f.CrAt(root, null, "run", "--rm", "--platform", "linux/amd64", image);
        Assert.True(amd.ExitCode == 0, amd.ToString());
        Assert.Equal("amd", amd.Stdout.Trim());
        Assert.Contains("for linux/amd64", amd.Stderr);

        var never = await f.CrAt(root, null, "run", "--rm", "--pull", "never", "--platform", "linux/arm64", image);
        Assert.NotEqual(0, never.ExitCode);
        Assert.True(never.ErrLines.Length == 1, never.ToString());
        Assert.Contains("for linux/arm64 (the stored one is for linux/amd64", never.Stderr);

        var created = await f.CrAt(root, null, "create", "--platform", "linux/arm64", image);
        Assert.True(created.ExitCode == 0, created.ToString());
        var id = created.OutLines[^1];
        var inspect = await f.CrAt(root, null, "image", "inspect", image);
        Assert.Equal("arm64", JsonDocument.Parse(inspect.Stdout).RootElement[0].GetProperty("Architecture").GetString());
        Assert.Equal(0, (await f.CrAt(root, null, "rm", id)).ExitCode);

        var containersBefore = (await f.CrAt(root, null, "ps", "-a", "-q")).OutLines.Length;
        foreach (var verb in new[] { new[] { "run", "--rm" }, ["create"] })
        {
            var missing = await f.CrAt(root, null, [.. verb, "--platform", "linux/s390x", image]);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.True(missing.ErrLines.Count(l => l.StartsWith("craterun:", StringComparison.Ordinal)) == 1, missing.ToString());
            Assert.Contains("no image for linux/s390x (it has: linux/amd64, linux/arm64)", missing.Stderr);
        }
        Assert.Equal(containersBefore, (await f.CrAt(root, null, "ps", "-a", "-q")).OutLines.Length);
    }
}
