using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Vellum.Consensus;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Storage.Ledger;

namespace Vellum.Ledger;

/// <summary>
/// One ledger written by this process alone, through the same path as a node's: sequencer → single-node consensus →
/// applier → store. For tools that write a ledger without serving it (<c>vellum generate</c>, benchmarks, tests).
/// Opening starts a new view, as every open of a single node does.
/// </summary>
public sealed class SingleNodeLedger : IAsyncDisposable
{
    private readonly SingleNodeConsensus _consensus;
    private readonly LedgerApplier _applier;

    private SingleNodeLedger(LedgerStore store, SingleNodeConsensus consensus, LedgerApplier applier, Sequencer sequencer)
    {
        Store = store;
        _consensus = consensus;
        _applier = applier;
        Sequencer = sequencer;
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
    public static async Task<SingleNodeLedger> OpenAsync(
        LedgerStoreOptions storeOptions, SequencerOptions sequencerOptions, LedgerSecret secret, X509Certificate2 serviceCertificate, IRootSigner signer,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(storeOptions);
        ArgumentNullException.ThrowIfNull(sequencerOptions);
        var store = LedgerStore.Open(storeOptions, secret, serviceCertificate, logger);
        var consensus = new SingleNodeConsensus(store.StartView());
        var applier = new LedgerApplier(store, catchUp: null, logger);
        var sequencer = new Sequencer(store, consensus, secret, signer, sequencerOptions, logger);
        await consensus.StartAsync(applier, CancellationToken.None).ConfigureAwait(false);
        await sequencer.BecomePrimaryAsync(consensus.Term, signInherited: false).ConfigureAwait(false);
        return new SingleNodeLedger(store, consensus, applier, sequencer);
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
    }
}
