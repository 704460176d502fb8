using System.Buffers;

namespace Vellum.Ledger;

/// <summary>
/// Frames sequenced and not yet committed: the unit of group commit. Many appenders share one consensus entry, one
/// fsync per node and one completion, so a batch costs one task however many transactions it holds.
/// </summary>
internal sealed class SequencedBatch
{
    private const int MinimumSize = 1024;
    private const int MaximumHint = 1024 * 1024;

    // Rented at the first frame, sized from the ledger's last batch: a ledger that sequences nothing (a backup, an idle
    // ledger) holds no buffer, and a ledger whose batches hold two or three appends (many ledgers sharing the clients)
    // rents a small array rather than 64 KiB.
    private readonly int _sizeHint;
    private byte[] _buffer = [];

    /// <summary>Creates an empty batch whose first frame rents at least <paramref name="sizeHint"/> bytes.</summary>
    public SequencedBatch(int sizeHint = MinimumSize) => _sizeHint = Math.Clamp(sizeHint, MinimumSize, MaximumHint);

    /// <summary>Completed once the batch is committed and applied on this node, or failed when its outcome is unknown.</summary>
    public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Length { get; private set; }

    public int Count { get; private set; }

    /// <summary>The sequencer's role epoch when the batch was started: a batch from before a role change is never handed over.</summary>
    public long Epoch { get; init; }

    /// <summary>The frames, for consensus (valid until <see cref="Release"/>).</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Reserves room for one frame of <paramref name="frameLength"/> bytes and returns it to be filled.</summary>
    public Span<byte> Reserve(int frameLength)
    {
        if (Length + frameLength > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(_buffer.Length * 2, _sizeHint), Length + frameLength));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = bigger;
        }

        Count++;
        var span = _buffer.AsSpan(Length, frameLength);
        Length += frameLength;
        return span;
    }

    /// <summary>Gives the buffer back to the pool. The batch is not used after this.</summary>
    public void Release()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = [];
    }
}
