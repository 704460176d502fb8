using Vellum.Ledger;

namespace Vellum.Consensus.Tests;

/// <summary>
/// The node's one signature cadence: a tick signs at most its budget of ledgers, only ledgers with unsigned
/// transactions, taking them in turn so that every busy ledger is signed within ceil(busy / budget) ticks; a budget
/// below one a tick carries over, and an idle spell buys no burst.
/// </summary>
public sealed class SignatureClockTests
{
    [Fact]
    public async Task A_tick_signs_at_most_its_budget_in_turn_and_only_ledgers_with_unsigned_transactions()
    {
        // A tick far longer than the test: only RunOnce ticks.
        await using var clock = new SignatureClock(TimeSpan.FromHours(1), perTick: 3);
        var busy = Enumerable.Range(0, 7).Select(_ => new Ledger { Unsigned = true }).ToList();
        var idle = new Ledger();
        foreach (var ledger in busy.Take(4).Append(idle).Concat(busy.Skip(4)))
        {
            clock.Add(ledger);
        }

        Assert.Equal(3, clock.RunOnce());
        Assert.Equal(3, busy.Count(l => l.Signatures == 1));
        Assert.Equal(3, clock.RunOnce());
        Assert.Equal(1, clock.RunOnce());
        Assert.All(busy, l => Assert.Equal(1, l.Signatures));
        Assert.Equal(0, idle.Signatures);
        Assert.Equal(0, clock.RunOnce());
        Assert.Equal(7, clock.Signed);

        // Busy again: the turn carries on where it stopped, so nobody waits more than ceil(7 / 3) ticks.
        busy.ForEach(l => l.Unsigned = true);
        clock.Remove(busy[0]);
        for (var tick = 0; tick < 2; tick++)
        {
            clock.RunOnce();
        }

        Assert.All(busy.Skip(1), l => Assert.Equal(2, l.Signatures));
        Assert.Equal(1, busy[0].Signatures);
    }

    [Fact]
    public async Task A_budget_below_one_a_tick_carries_over_and_an_idle_spell_buys_no_burst()
    {
        // 0.4 a tick: four busy ledgers, always unsigned, get 4 signatures in 10 ticks, never 2 on one tick.
        await using var clock = new SignatureClock(TimeSpan.FromHours(1), perTick: 0.4);
        var busy = Busy(clock, 4);
        Assert.Equal([0, 0, 1, 0, 1, 0, 0, 1, 0, 1], TicksAlwaysBusy(clock, busy, 10));
        Assert.All(busy, l => Assert.Equal(1, l.Signatures));

        // Idle for a long spell, then all busy: still at most one on a tick.
        busy.ForEach(l => l.Unsigned = false);
        for (var tick = 0; tick < 50; tick++)
        {
            Assert.Equal(0, clock.RunOnce());
        }

        busy.ForEach(l => l.Unsigned = true);
        Assert.Equal(1, clock.RunOnce());
        Assert.Equal(0, clock.RunOnce());

        // A budget above one a tick is not rounded either: 2.5 gives 2, 3, 2, 3.
        await using var faster = new SignatureClock(TimeSpan.FromHours(1), perTick: 2.5);
        Assert.Equal([2, 3, 2, 3], TicksAlwaysBusy(faster, Busy(faster, 10), 4));
    }

    /// <summary>Adds <paramref name="count"/> ledgers with unsigned transactions to the clock.</summary>
    private static List<Ledger> Busy(SignatureClock clock, int count)
    {
        var ledgers = Enumerable.Range(0, count).Select(_ => new Ledger { Unsigned = true }).ToList();
        ledgers.ForEach(clock.Add);
        return ledgers;
    }

    /// <summary>Runs <paramref name="ticks"/> ticks, every ledger unsigned again after each; how many signed on each.</summary>
    private static List<int> TicksAlwaysBusy(SignatureClock clock, List<Ledger> ledgers, int ticks)
    {
        var signed = new List<int>();
        for (var tick = 0; tick < ticks; tick++)
        {
            signed.Add(clock.RunOnce());
            ledgers.ForEach(l => l.Unsigned = true);
        }

        return signed;
    }

    [Fact]
    public async Task The_clock_ticks_on_its_own()
    {
        await using var clock = new SignatureClock(TimeSpan.FromMilliseconds(10), perTick: 1);
        var ledger = new Ledger { Unsigned = true };
        clock.Add(ledger);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (ledger.Signatures == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(1, ledger.Signatures);
    }

    private sealed class Ledger : ISignsOnTick
    {
        private int _signatures;

        public volatile bool Unsigned;

        public int Signatures => Volatile.Read(ref _signatures);

        public bool SignIfUnsigned()
        {
            if (!Unsigned)
            {
                return false;
            }

            Unsigned = false;
            Interlocked.Increment(ref _signatures);
            return true;
        }
    }
}
