using System.Diagnostics;
using System.Security.Cryptography;
using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Core.State;

namespace CrateRun.Linux.Images;

/// <summary>What a pull reports about one layer as it goes.</summary>
public enum LayerState { Waiting, Exists, Downloading, Done }

/// <summary>One report: a layer (short digest), its state, bytes so far and in all.</summary>
public sealed record LayerProgress(string Digest, LayerState State, long Bytes, long Total, TimeSpan Elapsed);

/// <summary>The result of a pull: the reference stored, the manifest digest, the image id, and whether anything was new.</summary>
public sealed record PulledImage(string Reference, string ManifestDigest, string Id, bool Downloaded);

/// <summary>
/// <c>craterun pull</c>: resolves a reference on its registry (an index or manifest list to the
/// --platform's manifest), fetches the config, then the layers in parallel, and records the image.
///
/// Each layer is streamed once: HTTP body → (SHA-256 of the compressed bytes + a copy into
/// tmp/blob-*) → gunzip or zstd → (SHA-256 of the tar = DiffID) → extract into tmp/snapshot-*. Both are
/// renamed into place only when both digests verify; on any failure both temporary files go.
/// A cut connection is resumed with a Range request at the byte where it stopped, so the
/// extraction never sees the cut. A lock per layer (images/locks/HEX) makes two pulls of the
/// same layer download it once: the second waits, then finds it stored.
/// </summary>
public sealed class ImagePuller(ImageStore store, RegistryOptions options, Action<LayerProgress>? progress = null)
{
    public int Parallelism { get; init; } = 3;
    private const int MaxResumes = 3;

    public PulledImage Pull(string text, PlatformSpec platform, CancellationToken ct = default)
    {
        var reference = ImageReference.Parse(text);
        using var client = new RegistryClient(reference.Domain, options);
        try
        {
            return PullWith(client, reference, platform, ct);
        }
        catch (HttpRequestException e)
        {
            throw new CrateRunException($"pull {reference.FamiliarString}: {RegistryClient.Describe(e)}");
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            var first = e.Flatten().InnerExceptions[0];
            if (first is HttpRequestException h) throw new CrateRunException($"pull {reference.FamiliarString}: {RegistryClient.Describe(h)}");
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    private PulledImage PullWith(RegistryClient client, ImageReference reference, PlatformSpec platform, CancellationToken ct)
    {
        var repository = reference.Path;
        var top = client.GetManifestAsync(repository, reference.Digest ?? reference.Tag!, ct).GetAwaiter().GetResult();
        var manifestFetched = top;
        var what = reference.FamiliarString;
        if (ImageDocuments.IsIndex(top.Bytes, top.MediaType, what))
        {
            var chosen = ImageDocuments.SelectPlatform(ImageDocuments.ReadIndex(top.Bytes, what), what, platform);
            manifestFetched = client.GetManifestAsync(repository, chosen.Digest, ct).GetAwaiter().GetResult();
            if (manifestFetched.Digest != chosen.Digest)
                throw new CrateRunException($"{what}: manifest has digest {manifestFetched.Digest}, the index says {chosen.Digest}");
        }
        var manifest = ImageDocuments.ReadManifest(manifestFetched.Bytes, what);
        var configBytes = client.GetSmallBlobAsync(repository, manifest.Config, ct).GetAwaiter().GetResult();
        var config = ImageDocuments.ReadConfig(configBytes, $"{what} config");
        if (config.RootFs.DiffIds.Count != manifest.Layers.Count)
            throw new CrateRunException($"{what}: {manifest.Layers.Count} layers but the config has {config.RootFs.DiffIds.Count} diff_ids");
        // a single-platform image is taken as it is unless another platform was asked for (docker only warns then)
        if (platform != PlatformSpec.Default && config.Os.Length > 0 && (config.Os != platform.Os || config.Architecture != platform.Architecture)
            && !ImageDocuments.IsIndex(top.Bytes, top.MediaType, what))
            throw new CrateRunException($"{what}: the image is for {config.Os}/{config.Architecture}, not {platform.Os}/{platform.Architecture} (choose with --platform)");
        foreach (var layer in manifest.Layers) ImageDocuments.Sha256Hex(layer.Digest);
        var chainIds = ImageDocuments.ChainIds(config.RootFs.DiffIds);

        // the lease keeps a concurrent rmi's garbage collection off what this pull stores before the index names it
        IDisposable lease;
        using (store.Lock())
        {
            store.RemoveLeftoversOfDeadPulls();
            lease = store.Lease([.. manifest.Layers.Select(l => l.Digest), manifest.Config.Digest, manifestFetched.Digest], chainIds);
        }
        using (lease)
        {
            var downloaded = 0;
            ThreadPool.GetMinThreads(out var workers, out var io);
            ThreadPool.SetMinThreads(Math.Max(workers, Parallelism * 2 + 4), io);
            Parallel.For(0, manifest.Layers.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, i =>
            {
                if (EnsureLayer(client, repository, manifest.Layers[i], config.RootFs.DiffIds[i], chainIds[i], ct)) Interlocked.Increment(ref downloaded);
            });

            using var _ = store.Lock();
            store.WriteBlob(configBytes);
            var manifestDigest = store.WriteBlob(manifestFetched.Bytes);
            var index = store.LoadIndex();
            long size = 0;
            foreach (var c in chainIds) size += store.SnapshotSizeOf(c);
            var isNew = !index.Images.ContainsKey(manifestDigest);
            index.Images[manifestDigest] = new StoredImage
            {
                Config = manifest.Config.Digest, ChainIds = chainIds, Size = size, Created = config.Created, Loaded = DateTimeOffset.UtcNow,
            };
            // a tag names the image; a pull by digest records name@digest (what docker lists as its RepoDigest)
            var stored = reference.Digest is not null ? reference with { Tag = null } : reference;
            var before = index.Refs.GetValueOrDefault(stored.ToString());
            index.Refs[stored.ToString()] = manifestDigest;
            store.SaveIndex(index);
            return new PulledImage(stored.ToString(), manifestDigest, manifest.Config.Digest, downloaded > 0 || isNew || before != manifestDigest);
        }
    }

    /// <summary>Makes sure the layer's blob and snapshot are stored; returns whether anything was downloaded.</summary>
    private bool EnsureLayer(RegistryClient client, string repository, Descriptor layer, string diffId, string chainId, CancellationToken ct)
    {
        var shortDigest = layer.Digest[7..19];
        Report(shortDigest, LayerState.Waiting, 0, layer.Size, TimeSpan.Zero);
        using var _ = store.LayerLock(layer.Digest);
        if (store.HasBlob(layer.Digest) && store.HasSnapshot(chainId))
        {
            Report(shortDigest, LayerState.Exists, layer.Size, layer.Size, TimeSpan.Zero);
            return false;
        }
        if (store.HasBlob(layer.Digest))
        {
            store.EnsureSnapshot(chainId, diffId, store.BlobPath(layer.Digest), $"layer {layer.Digest}");
            Report(shortDigest, LayerState.Exists, layer.Size, layer.Size, TimeSpan.Zero);
            return false;
        }
        var clock = Stopwatch.StartNew();
        // a download cut earlier (this pull's resumes exhausted, or the process killed) goes on from its
        // partial file; if the finished blob does not verify, the partial may be what was wrong: once more from byte 0
        try
        {
            DownloadLayer(client, repository, layer, diffId, chainId, shortDigest, clock, ct);
        }
        catch (BlobDigestException e) when (e.Resumed)
        {
            DownloadLayer(client, repository, layer, diffId, chainId, shortDigest, clock, ct);
        }
        Report(shortDigest, LayerState.Done, layer.Size, layer.Size, clock.Elapsed);
        return true;
    }

    /// <summary>
    /// Downloads a layer into partial/HEX (continuing what is there), unpacking it as it streams, and
    /// publishes blob and snapshot once both digests verify. The partial file stays when the download was
    /// cut short (the next pull resumes it); it goes on any other failure. Call under the layer's lock.
    /// </summary>
    private void DownloadLayer(RegistryClient client, string repository, Descriptor layer, string diffId, string chainId, string shortDigest, Stopwatch clock, CancellationToken ct)
    {
        var partialPath = store.PartialPath(layer.Digest);
        string? tmpSnapshot = null;
        var keepPartial = false;
        try
        {
            using (var partial = new PartialBlobStream(partialPath, layer, offset => new ResumingBlobStream(client, repository, layer, offset,
                n => Report(shortDigest, LayerState.Downloading, n, layer.Size, clock.Elapsed), ct)))
            using (var tee = new HashingTeeStream(partial, Stream.Null))
            {
                using var releaseHash = new DisposeAction(tee.ReleaseHash);
                try
                {
                    if (store.HasSnapshot(chainId))
                    {
                        tee.CopyTo(Stream.Null); // only the blob is missing (another image brought the same files)
                    }
                    else
                    {
                        tmpSnapshot = store.NewTempPath("snapshot");
                        Directory.CreateDirectory(tmpSnapshot, (UnixFileMode)0b111_101_101);
                        LayerUnpacker.Result result;
                        try
                        {
                            result = LayerUnpacker.Unpack(tee, tmpSnapshot);
                        }
                        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException
                            || (e is CrateRunException && e is not DownloadCutException))
                        {
                            // a corrupted blob usually breaks the decompressor first: the digest is the better error
                            tee.CopyTo(Stream.Null);
                            CheckBlob(layer, tee, partial.Resumed);
                            throw e is CrateRunException ? e : new CrateRunException($"layer {layer.Digest}: {e.Message}");
                        }
                        tee.CopyTo(Stream.Null); // what the decompressor left unread (gzip trailer, padding) is part of the blob
                        CheckBlob(layer, tee, partial.Resumed);
                        if (result.DiffId != diffId)
                            throw new CrateRunException($"layer {layer.Digest}: uncompressed content has digest {result.DiffId}, but the image config says {diffId}");
                        partial.Flush(flushToDisk: true);
                        store.PublishSnapshot(tmpSnapshot, chainId, result.Size);
                        tmpSnapshot = null;
                    }
                    CheckBlob(layer, tee, partial.Resumed);
                    partial.Flush(flushToDisk: true);
                }
                catch (DownloadCutException)
                {
                    keepPartial = partial.Stored > 0;
                    throw;
                }
            }
            store.Commit(partialPath, layer.Digest, layer.Digest, $"layer {layer.Digest}");
        }
        finally
        {
            if (!keepPartial && File.Exists(partialPath)) File.Delete(partialPath);
            if (tmpSnapshot is not null && Directory.Exists(tmpSnapshot)) Directory.Delete(tmpSnapshot, recursive: true);
            if (tmpSnapshot is not null) File.Delete(tmpSnapshot + LayerUnpacker.SpecialOwnersSuffix);
        }
    }

    private static void CheckBlob(Descriptor layer, HashingTeeStream tee, bool resumed)
    {
        if (tee.Length != layer.Size)
            throw new BlobDigestException($"layer {layer.Digest}: {tee.Length} bytes received, the manifest says {layer.Size}", resumed);
        var digest = tee.Digest();
        if (digest != layer.Digest)
            throw new BlobDigestException($"layer {layer.Digest}: content has digest {digest} (corrupted in the registry or on the way); nothing was stored", resumed);
    }

    /// <summary>A blob whose bytes do not verify; <see cref="Resumed"/>: part of them came from an earlier, cut download.</summary>
    private sealed class BlobDigestException(string message, bool resumed) : CrateRunException(message)
    {
        public bool Resumed { get; } = resumed;
    }

    /// <summary>A download cut more often than it may be resumed within one pull; what arrived is kept for the next.</summary>
    private sealed class DownloadCutException(string message) : CrateRunException(message);

    /// <summary>
    /// A layer blob read through its partial file: first the bytes an earlier, cut download left there
    /// (read back from disk), then the registry's from that offset on, appended to the file as they come.
    /// </summary>
    private sealed class PartialBlobStream : ReadOnlyStream
    {
        private readonly FileStream _file;
        private readonly Func<long, Stream> _open;
        private readonly long _kept;
        private Stream? _network;
        private long _position;

        public PartialBlobStream(string path, Descriptor blob, Func<long, Stream> open)
        {
            _open = open;
            _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            _kept = _file.Length;
            if (_kept > blob.Size)
            {
                _file.SetLength(0);
                _kept = 0;
            }
        }

        /// <summary>Whether bytes of an earlier download were used.</summary>
        public bool Resumed => _kept > 0;

        /// <summary>Bytes in the partial file now.</summary>
        public long Stored => _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < _kept)
            {
                var fromDisk = _file.Read(buffer[..(int)Math.Min(buffer.Length, _kept - _position)]);
                if (fromDisk == 0) throw new IOException($"{_file.Name}: shorter than it was");
                _position += fromDisk;
                return fromDisk;
            }
            _network ??= _open(_position);
            var n = _network.Read(buffer);
            if (n > 0)
            {
                _file.Write(buffer[..n]);
                _position += n;
            }
            return n;
        }

        public void Flush(bool flushToDisk) => _file.Flush(flushToDisk);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _network?.Dispose();
                _file.Dispose();
            }
            base.Dispose(disposing);
        }

        public override long Position { get => _position; set => throw new NotSupportedException(); }
    }

    private void Report(string digest, LayerState state, long bytes, long total, TimeSpan elapsed) =>
        progress?.Invoke(new LayerProgress(digest, state, bytes, total, elapsed));

    /// <summary>
    /// A blob's body that survives cuts: when the connection breaks (or ends early) it is reopened with
    /// <c>Range: bytes=N-</c> at the byte it stopped, at most <see cref="MaxResumes"/> times. Reading past
    /// the descriptor's size is an error (a registry cannot make us store more than the manifest says).
    /// </summary>
    private sealed class ResumingBlobStream(RegistryClient client, string repository, Descriptor blob, long start, Action<long> onBytes, CancellationToken ct) : ReadOnlyStream
    {
        private Stream? _current;
        private long _position = start;
        private int _resumes;
        private DownloadCutException? _gaveUp;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_gaveUp is not null) throw _gaveUp;
            while (true)
            {
                int n;
                try
                {
                    _current ??= client.OpenBlobAsync(repository, blob.Digest, _position, ct).GetAwaiter().GetResult();
                    n = _current.Read(buffer);
                }
                catch (Exception e) when (e is IOException or HttpRequestException && _resumes < MaxResumes)
                {
                    Resume();
                    continue;
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw _gaveUp = new DownloadCutException($"layer {blob.Digest}: download cut at {_position} of {blob.Size} bytes and not resumable after {MaxResumes} tries: {RegistryClient.Describe(e)} (what arrived is kept: pull again to resume)");
                }
                if (n == 0 && _position < blob.Size)
                {
                    if (_resumes >= MaxResumes)
                        throw _gaveUp = new DownloadCutException($"layer {blob.Digest}: download cut at {_position} of {blob.Size} bytes {MaxResumes + 1} times (what arrived is kept: pull again to resume)");
                    Resume(); // the body ended early: a cut the server closed cleanly
                    continue;
                }
                _position += n;
                if (_position > blob.Size)
                    throw new CrateRunException($"layer {blob.Digest}: the registry sent more than the {blob.Size} bytes the manifest says");
                if (n > 0) onBytes(_position);
                return n;
            }
        }

        private void Resume()
        {
            _current?.Dispose();
            _current = null;
            _resumes++;
            Thread.Sleep(200 * _resumes);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _current?.Dispose();
            base.Dispose(disposing);
        }

        public override long Position { get => _position; set => throw new NotSupportedException(); }
    }

    private sealed class DisposeAction(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    /// <summary>Reads through: hashes every byte and copies it to <paramref name="copy"/> (the blob's temp file).</summary>
    private sealed class HashingTeeStream(Stream source, Stream copy) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;
        public override long Length => _length;

        public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = source.Read(buffer);
            if (n > 0)
            {
                _hash.AppendData(buffer[..n]);
                copy.Write(buffer[..n]);
                _length += n;
            }
            return n;
        }

        /// <summary>The hash outlives Dispose: the unpacker closes the stream it reads, the digest is checked after.</summary>
        public void ReleaseHash() => _hash.Dispose();

        public override long Position { get => _length; set => throw new NotSupportedException(); }
    }
}
