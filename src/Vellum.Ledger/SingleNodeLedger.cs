using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>
/// One ledger written by this process alone, through the same path as a node's: sequencer → consensus → applier →
/// store. For tools that write a ledger without serving it (<c>vellum generate</c>, benchmarks, tests). With a node log
/// directory it writes exactly as a node does (through a <see cref="NodeLog"/> of its own, after applying what that log
/// holds); without one, through <see cref="SingleNodeConsensus"/>, which fsyncs the ledger's files per batch (tests and
/// benchmarks of the store alone). Opening starts a new view, as every open of a single node does.
/// </summary>
public sealed class SingleNodeLedger : IAsyncDisposable
{
    private readonly IConsensusLog _consensus;
    private readonly LedgerApplier _applier;
    private readonly NodeLog? _nodeLog;
    private readonly LogSeal _seal;

    private SingleNodeLedger(LedgerStore store, IConsensusLog consensus, LedgerApplier applier, Sequencer sequencer, NodeLog? nodeLog, LogSeal seal)
    {
        _seal = seal;
        Store = store;
        _consensus = consensus;
        _applier = applier;
        Sequencer = sequencer;
        _nodeLog = nodeLog;
    }

    /// <summary>The ledger as applied: reads, receipts, indexes.</summary>
    public LedgerStore Store { get; }

    /// <summary>Where appends go.</summary>
    public Sequencer Sequencer { get; }

    /// <summary>Opens (or creates) the ledger and makes its sequencer primary in a new view.</summary>
    /// <param name="storeOptions">Where the ledger lives.</param>
    /// <param name="sequencerOptions">Batching and signing.</param>
    /// <param name="secret">The ledger secret.</param>
    /// <param name="serviceCertificate">The ledger's service certificate, which must endorse <paramref name="signer"/>'s.</param>
    /// <param name="signer">This node's key and certificate.</param>
    /// <param name="logger">Where to log; none if null.</param>
    /// <param name="nodeLog">The node log's directory and this ledger's name in it, to write as a node does; null for per-batch fsyncs.</param>
    public static async Task<SingleNodeLedger> OpenAsync(
        LedgerStoreOptions storeOptions, SequencerOptions sequencerOptions, LedgerSecret secret, X509Certificate2 serviceCertificate, IRootSigner signer,
        ILogger? logger = null, (string Directory, string Ledger)? nodeLog = null)
    {
        ArgumentNullException.ThrowIfNull(storeOptions);
        ArgumentNullException.ThrowIfNull(sequencerOptions);
        NodeLog? log = null;
        LedgerStore store;
        var seal = new LogSeal(secret);
        IConsensusLog consensus;
        if (nodeLog is { } where)
        {
            log = NodeLog.Open(where.Directory, logger: logger);
            log.Start();
            store = LedgerStore.Open(storeOptions with { SyncEachBatch = false }, secret, serviceCertificate, logger);
            NodeLogRecovery.Apply(log, where.Ledger, store, seal);
            log.DropRecovered();
            consensus = log.Join(where.Ledger, store.StartView(), store.SyncToDisk);
        }
        else
        {
            store = LedgerStore.Open(storeOptions, secret, serviceCertificate, logger);
            consensus = new SingleNodeConsensus(store.StartView());
        }

        var applier = new LedgerApplier(store, seal, catchUp: null, logger);
        var sequencer = new Sequencer(store, consensus, secret, signer, sequencerOptions, logger);
        await consensus.StartAsync(applier, CancellationToken.None).ConfigureAwait(false);
        await sequencer.BecomePrimaryAsync(consensus.Term, signInherited: false).ConfigureAwait(false);
        return new SingleNodeLedger(store, consensus, applier, sequencer, log, seal);
    }

    /// <summary>Appends a transaction; see <see cref="Sequencer.AppendAsync"/>.</summary>
    public ValueTask<TxId> AppendAsync(ITransactionBody entry, CancellationToken cancellationToken = default) =>
        Sequencer.AppendAsync(entry, cancellationToken);

    /// <summary>Waits until every transaction appended so far is Committed (a signature is sequenced at once).</summary>
    public ValueTask WaitForCommitAsync(CancellationToken cancellationToken = default) =>
        Sequencer.WaitForCommitAsync(Sequencer.LastSeqno, cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _consensus.DisposeAsync().ConfigureAwait(false);
        await _applier.DisposeAsync().ConfigureAwait(false);
        await Sequencer.DisposeAsync().ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false);
        if (_nodeLog is not null)
        {
            await _nodeLog.DisposeAsync().ConfigureAwait(false);
        }

        _seal.Dispose();
    }
}
