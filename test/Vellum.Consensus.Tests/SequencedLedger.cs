using System.Net;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage;
using Vellum.Storage.Ledger;

namespace Vellum.Consensus.Tests;

/// <summary>
/// A single-node ledger's folder and identities for one test, opened on the single-node write path: store →
/// sequencer → <see cref="WatchedLog"/> over <see cref="SingleNodeConsensus"/> → applier → store.
/// </summary>
internal sealed class SequencedLedgerFolder : IDisposable
{
    public SequencedLedgerFolder(string prefix)
    {
        Root = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Data = new DataDirectory(Root);
        (Service, Node, Secret, _) = Data.OpenOrCreate(isPrivate: false);
    }

    public string Root { get; }

    public DataDirectory Data { get; }

    public ServiceIdentity Service { get; }

    public NodeIdentity Node { get; }

    public LedgerSecret Secret { get; }

    /// <summary>Opens the ledger, its sequencer primary; <paramref name="wrapApplier"/> may stand between consensus and the applier.</summary>
    public async Task<SequencedLedger> OpenAsync(SequencerOptions options, Func<IConsensusApplier, IConsensusApplier>? wrapApplier = null)
    {
        var store = LedgerStore.Open(new LedgerStoreOptions { LedgerDirectory = Data.Default.Chunks, StateDirectory = Data.Default.State }, Secret, Service.Certificate);
        var log = new WatchedLog(new SingleNodeConsensus(store.StartView()));
        var sequencer = new Sequencer(store, log, Secret, new NodeRootSigner(Node), options);
        IConsensusApplier applier = new LedgerApplier(store, new LogSeal(Secret), catchUp: null);
        await log.StartAsync(wrapApplier is null ? applier : wrapApplier(applier), CancellationToken.None);
        await sequencer.BecomePrimaryAsync(log.Term, signInherited: false);
        return new SequencedLedger(store, log, sequencer);
    }

    public void Dispose()
    {
        Service.Dispose();
        Node.Dispose();
        Secret.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>An open single-node ledger; stops consensus, then the sequencer, then the store.</summary>
internal sealed record SequencedLedger(LedgerStore Store, WatchedLog Log, Sequencer Sequencer) : IAsyncDisposable
{
    public LedgerReads Reads { get; } = new(Store, Sequencer);

    public async ValueTask DisposeAsync()
    {
        await Log.DisposeAsync();
        await Sequencer.DisposeAsync();
        await Store.DisposeAsync();
    }
}

/// <summary>A consensus log that counts the batches handed to it and how many were in it at once.</summary>
internal sealed class WatchedLog(SingleNodeConsensus inner) : IConsensusLog
{
    private int _inFlight;
    private int _peakInFlight;
    private int _batches;

    private readonly List<byte[]> _seen = [];

    public int Batches => Volatile.Read(ref _batches);

    /// <summary>Every batch handed to consensus, as handed.</summary>
    public IReadOnlyList<byte[]> Seen
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }
    }

    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    public bool IsLeader => inner.IsLeader;

    public long Term => inner.Term;

    public long CommitIndex => inner.CommitIndex;

    public EndPoint? LeaderEndPoint => inner.LeaderEndPoint;

    public CancellationToken LeadershipToken => inner.LeadershipToken;

    public IReadOnlyList<ConsensusMember> Members => inner.Members;

    public ValueTask StartAsync(IConsensusApplier applier, CancellationToken token) => inner.StartAsync(applier, token);

    public ValueTask<LogPosition> ReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token) => throw new NotSupportedException();

    /// <summary>When set, each hand-over waits inside consensus until this completes.</summary>
    public Task? Gate { get; set; }

    /// <summary>Completes when a hand-over first enters consensus.</summary>
    public Task Entered => _entered.Task;

    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask<Task<LogPosition>> BeginReplicateAsync(ReadOnlyMemory<byte> batch, CancellationToken token)
    {
        _entered.TrySetResult();
        if (Gate is { } gate)
        {
            await gate.WaitAsync(token);
        }

        Interlocked.Increment(ref _batches);
        lock (_seen)
        {
            _seen.Add(batch.ToArray());
        }

        var now = Interlocked.Increment(ref _inFlight);
        int peak;
        while (now > (peak = Volatile.Read(ref _peakInFlight)) && Interlocked.CompareExchange(ref _peakInFlight, now, peak) != peak)
        {
        }

        var applied = await inner.BeginReplicateAsync(batch, token);
        return Watch(applied);
    }

    private async Task<LogPosition> Watch(Task<LogPosition> applied)
    {
        try
        {
            return await applied;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public ValueTask WaitForLeaderReadyAsync(CancellationToken token) => inner.WaitForLeaderReadyAsync(token);

    public ValueTask<bool> AddMemberAsync(EndPoint member, CancellationToken token) => inner.AddMemberAsync(member, token);

    public ValueTask<bool> RemoveMemberAsync(EndPoint member, CancellationToken token) => inner.RemoveMemberAsync(member, token);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
