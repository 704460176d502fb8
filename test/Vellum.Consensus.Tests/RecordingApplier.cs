using System.Text;

namespace Vellum.Consensus.Tests;

/// <summary>
/// An applier that records what it applies, honours the idempotency contract (ignores index &lt;= LastAppliedIndex)
/// and counts the calls it had to ignore, so tests can see whether the engine replays what it should not.
/// </summary>
internal sealed class RecordingApplier : IConsensusApplier
{
    private readonly Lock _lock = new();
    private readonly List<(LogPosition Position, string Batch)> _applied = [];
    private long _lastAppliedIndex;
    private int _ignoredCalls;

    public RecordingApplier(long lastAppliedIndex = 0) => _lastAppliedIndex = lastAppliedIndex;

    /// <summary>When set, ApplyAsync throws for this index (a storage fault).</summary>
    public long? FailAtIndex { get; set; }

    public long LastAppliedIndex
    {
        get
        {
            lock (_lock)
            {
                return _lastAppliedIndex;
            }
        }
    }

    public int IgnoredCalls
    {
        get
        {
            lock (_lock)
            {
                return _ignoredCalls;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _applied.Count;
            }
        }
    }

    public IReadOnlyList<(LogPosition Position, string Batch)> Applied
    {
        get
        {
            lock (_lock)
            {
                return [.. _applied];
            }
        }
    }

    public IReadOnlyList<string> Batches => [.. Applied.Select(a => a.Batch)];

    public ValueTask ApplyAsync(LogPosition position, ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        lock (_lock)
        {
            if (position.Index <= _lastAppliedIndex)
            {
                _ignoredCalls++;
                return ValueTask.CompletedTask;
            }

            if (position.Index == FailAtIndex)
            {
                throw new IOException($"Injected apply failure at index {position.Index}.");
            }

            _applied.Add((position, Encoding.UTF8.GetString(batch.Span)));
            _lastAppliedIndex = position.Index;
        }

        return ValueTask.CompletedTask;
    }

    public static ReadOnlyMemory<byte> Batch(string text) => Encoding.UTF8.GetBytes(text);
}
