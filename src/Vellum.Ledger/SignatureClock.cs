namespace Vellum.Ledger;

/// <summary>
/// One signature cadence for every ledger of a node, in place of a timer per ledger. Every <see cref="Tick"/> it asks
/// the ledgers that have unsigned transactions to sign, at most <see cref="PerTick"/> of them, taking them in turn, so
/// that a node signs at most <c>PerTick / Tick</c> roots a second however many ledgers are busy: with few busy ledgers
/// each signs every tick (a transaction is Pending for at most a tick, as before); with many, each signs less often
/// (Pending for up to <c>busy ledgers / PerTick</c> ticks) rather than the node spending its CPU on signatures.
/// A caller waiting for commit still gets a signature at once (<see cref="Sequencer.WaitForCommitAsync"/>), and every
/// <see cref="SequencerOptions.SignatureInterval"/> transactions still get one.
/// </summary>
public sealed class SignatureClock : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private ISignsOnTick[] _members = [];
    private int _next;

    /// <param name="tick">How often the clock runs (a ledger's <see cref="SequencerOptions.SignatureDelay"/>, typically).</param>
    /// <param name="perTick">The most ledgers asked to sign on one tick.</param>
    public SignatureClock(TimeSpan tick, int perTick)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(tick, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(perTick, 1);
        Tick = tick;
        PerTick = perTick;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How often the clock runs.</summary>
    public TimeSpan Tick { get; }

    /// <summary>The most ledgers asked to sign on one tick.</summary>
    public int PerTick { get; }

    /// <summary>Signatures the clock asked for (since it started).</summary>
    public long Signed => Interlocked.Read(ref _signed);

    private long _signed;

    internal void Add(ISignsOnTick member)
    {
        lock (_lock)
        {
            _members = [.. _members, member];
        }
    }

    internal void Remove(ISignsOnTick member)
    {
        lock (_lock)
        {
            _members = [.. _members.Where(m => !ReferenceEquals(m, member))];
        }
    }

    /// <summary>One tick: asks up to <see cref="PerTick"/> ledgers with unsigned transactions to sign, in turn.</summary>
    internal int RunOnce()
    {
        var members = Volatile.Read(ref _members);
        var asked = 0;
        var start = _next;
        for (var i = 0; i < members.Length && asked < PerTick; i++)
        {
            var member = members[(start + i) % members.Length];
            if (member.SignIfUnsigned())
            {
                asked++;
                _next = (start + i + 1) % members.Length;
            }
        }

        Interlocked.Add(ref _signed, asked);
        return asked;
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(Tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                RunOnce();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>What the <see cref="SignatureClock"/> asks of a ledger's sequencer.</summary>
internal interface ISignsOnTick
{
    /// <summary>Sequences a signature if this ledger is primary and has unsigned transactions; true if it did.</summary>
    bool SignIfUnsigned();
}
