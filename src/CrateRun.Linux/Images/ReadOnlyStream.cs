namespace CrateRun.Linux.Images;

/// <summary>
/// A forward-only stream that is only read, as every stream the image code wraps (downloads,
/// hashing tees, layers being unpacked): the members such a stream refuses, written once.
/// Subclasses supply Read, and Position when they count.
/// </summary>
public abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
