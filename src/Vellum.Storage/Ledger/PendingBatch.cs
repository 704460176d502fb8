using System.Buffers;

namespace Vellum.Storage.Ledger;

/// <summary>
/// Committed frames on their way into a chunk: one write (and one fsync) per batch, split where a chunk closes.
/// </summary>
internal sealed class PendingBatch
{
    private byte[] _buffer;
    private int[] _frameOffsets;

    /// <summary>
    /// Creates an empty batch with room for <paramref name="capacity"/> bytes (the committed batch it copies), so a
    /// small batch rents a small array rather than 64 KiB.
    /// </summary>
    public PendingBatch(int capacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 256));
        _frameOffsets = ArrayPool<int>.Shared.Rent(Math.Clamp(capacity / 128, 16, 256));
    }

    public int Length { get; private set; }

    public int Count { get; private set; }

    public long FirstSeqno { get; private set; }

    public long LastSeqno { get; private set; }

    /// <summary>Seqno of the last signature transaction in the batch, 0 if none.</summary>
    public long LastSignatureSeqno { get; set; }

    /// <summary>Seqno of the last user-management transaction in the batch, 0 if none.</summary>
    public long LastUserChangeSeqno { get; set; }

    /// <summary>Seqno of the last governance transaction in the batch, 0 if none.</summary>
    public long LastGovernanceSeqno { get; set; }

    /// <summary>Signature transactions in the batch.</summary>
    public int SignatureCount { get; set; }

    /// <summary>The batch ends with a signature after which the chunk is closed.</summary>
    public bool ClosesChunk { get; set; }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    public ReadOnlySpan<int> FrameOffsets => _frameOffsets.AsSpan(0, Count);

    /// <summary>Reserves room for one frame of <paramref name="frameLength"/> bytes and returns it to be filled.</summary>
    public Span<byte> Reserve(long seqno, int frameLength)
    {
        if (Length + frameLength > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + frameLength));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        if (Count == _frameOffsets.Length)
        {
            var bigger = ArrayPool<int>.Shared.Rent(_frameOffsets.Length * 2);
            _frameOffsets.AsSpan().CopyTo(bigger);
            ArrayPool<int>.Shared.Return(_frameOffsets);
            _frameOffsets = bigger;
        }

        if (Count == 0)
        {
            FirstSeqno = seqno;
        }

        LastSeqno = seqno;
        _frameOffsets[Count++] = Length;
        var span = _buffer.AsSpan(Length, frameLength);
        Length += frameLength;
        return span;
    }

    /// <summary>Gives the buffers back to the pool. The batch is not used after this.</summary>
    public void Release()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<int>.Shared.Return(_frameOffsets);
        _buffer = [];
        _frameOffsets = [];
    }
}
