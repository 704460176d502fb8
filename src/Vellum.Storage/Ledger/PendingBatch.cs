using System.Buffers;

namespace Vellum.Storage.Ledger;

/// <summary>
/// Frames sequenced but not yet written: the unit of group commit. Many appenders share one write and one fsync and
/// then one completion, so a batch costs one task however many transactions it holds.
/// </summary>
internal sealed class PendingBatch
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
    private int[] _frameOffsets = ArrayPool<int>.Shared.Rent(256);

    /// <summary>Completed once every frame of the batch is durable (or failed with the write error).</summary>
    public TaskCompletionSource Durable { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Length { get; private set; }

    public int Count { get; private set; }

    public long FirstSeqno { get; private set; }

    public long LastSeqno { get; private set; }

    /// <summary>Seqno of the last signature transaction in the batch, 0 if none.</summary>
    public long LastSignatureSeqno { get; set; }

    /// <summary>Signature transactions in the batch.</summary>
    public int SignatureCount { get; set; }

    /// <summary>The batch ends with a signature after which the chunk is closed.</summary>
    public bool ClosesChunk { get; set; }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, Length);

    /// <summary>The frames as memory, for handing to consensus (valid until <see cref="Release"/>).</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Replicated mode: the store's rollback count when the flusher took the batch.</summary>
    public long Epoch { get; set; }

    /// <summary>Replicated mode: consensus passed this batch back and it was written.</summary>
    public bool Applied { get; set; }

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
