namespace Vellum.Ledger;

/// <summary>
/// One signature cadence for every ledger of a node, in place of a timer per ledger. Every <see cref="Tick"/> it asks
/// the ledgers that have unsigned transactions to sign, at most <see cref="PerTick"/> of them on average, taking them
/// in turn, so that a node signs at most <c>PerTick / Tick</c> roots a second however many ledgers are busy: with few
/// busy ledgers each signs every tick (a transaction is Pending for at most a tick, as before); with many, each signs
/// less often (Pending for up to <c>busy ledgers / PerTick</c> ticks) rather than the node spending its CPU on
/// signatures. A budget below one a tick carries over: with 0.4, a ledger is asked on two ticks of every five.
/// A caller waiting for commit still gets a signature at once (<see cref="Sequencer.WaitForCommitAsync"/>), and every
/// <see cref="SequencerOptions.SignatureInterval"/> transactions still get one.
/// </summary>
public sealed class SignatureClock : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly long _perTickMilli;
    private ISignsOnTick[] _members = [];
    private int _next;
    private long _creditMilli;

    /// <param name="tick">How often the clock runs (a ledger's <see cref="SequencerOptions.SignatureDelay"/>, typically).</param>
    /// <param name="perTick">The most ledgers asked to sign on one tick, on average (a fraction carries over to later ticks).</param>
    public SignatureClock(TimeSpan tick, double perTick)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(tick, TimeSpan.Zero);
        if (!double.IsFinite(perTick) || perTick <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(perTick), perTick, "a positive number");
        }

        Tick = tick;
        PerTick = perTick;
        _perTickMilli = Math.Max(1, (long)Math.Round(perTick * 1000));
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How often the clock runs.</summary>
    public TimeSpan Tick { get; }

    /// <summary>The most ledgers asked to sign on one tick, on average.</summary>
    public double PerTick { get; }

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

    /// <summary>
    /// One tick: asks ledgers with unsigned transactions to sign, in turn, as many as the budget allows: this tick's
    /// <see cref="PerTick"/> plus the fraction earlier ticks left, so never more than one tick's worth rounded up, and
    /// an idle spell buys no burst. (Counted in thousandths, so that no fraction is lost to rounding.)
    /// </summary>
    internal int RunOnce()
    {
        var members = Volatile.Read(ref _members);
        _creditMilli = Math.Min(_creditMilli + _perTickMilli, _perTickMilli + 999);
        var allowed = (int)Math.Min(int.MaxValue, _creditMilli / 1000);
        var asked = 0;
        var start = _next;
        for (var i = 0; i < members.Length && asked < allowed; i++)
        {
            var member = members[(start + i) % members.Length];
            if (member.SignIfUnsigned())
            {
                asked++;
                _next = (start + i + 1) % members.Length;
            }
        }

        _creditMilli -= asked * 1000L;
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
