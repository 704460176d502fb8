using System.Diagnostics;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Service;

/// <summary>
/// Catching up from a peer's ledger files: a member that lags (a new one, one that was down, or one whose missing
/// entries the leader's write-ahead log no longer holds) fetches the committed transactions it lacks from another
/// member's <c>GET /node/ledger/frames</c>, over TLS in both directions with node certificates the service identity
/// endorsed, and applies them through <see cref="LedgerStore.ApplyCommitted"/>, which checks every frame (checksums,
/// seqno continuity, views, each signature against the root before it) before writing any of it.
/// </summary>
public sealed partial class LedgerService
{
    /// <summary>The most a peer sends per <c>GET /node/ledger/frames</c> (one chunk file's worth).</summary>
    public const int MaxFramesResponseBytes = 4 * 1024 * 1024;

    /// <summary>The header that carries the last seqno in a frames response.</summary>
    public const string LastSeqnoHeader = "x-vellum-last-seqno";

    /// <summary>The header that carries the serving member's durable seqno (its end) in a frames response.</summary>
    public const string DurableSeqnoHeader = "x-vellum-durable-seqno";

    private HttpClient? _peerClient;

    /// <summary>Transactions this node fetched from peers since it started (for operators and tests).</summary>
    public long TransactionsFetched => Interlocked.Read(ref _transactionsFetched);

    private long _transactionsFetched;

    /// <summary>
    /// Fetches committed transactions from the peers until the ledger reaches <paramref name="targetSeqno"/> or, with
    /// <see cref="long.MaxValue"/>, until the peer asked has no more. Tries each known peer in turn (the primary
    /// first); a peer that is down, or sends something that does not check, is skipped.
    /// </summary>
    /// <returns>True when the target was reached (with <see cref="long.MaxValue"/>: when some peer answered to its end).</returns>
    public async Task<bool> CatchUpAsync(long targetSeqno, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var before = Store.DurableSeqno;
        var client = PeerClient();
        var urls = Peers.Values.Distinct().ToList();
        if (PrimaryUrl is { } primary && urls.Remove(primary))
        {
            urls.Insert(0, primary);
        }

        foreach (var url in urls)
        {
            var reachedPeerEnd = false;
            try
            {
                while (Store.DurableSeqno < targetSeqno)
                {
                    var from = Store.DurableSeqno + 1;
                    using var request = new HttpRequestMessage(
                        HttpMethod.Get, new Uri(url, $"/node/ledger/frames?from={from.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
                    request.Headers.Host = HostOn(url);
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        LogMessages.CatchUpPeerRefused(_logger, url, (int)response.StatusCode);
                        break;
                    }

                    var frames = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                    var peerEnd = response.Headers.TryGetValues(DurableSeqnoHeader, out var values) &&
                        long.TryParse(values.FirstOrDefault(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var end)
                        ? end
                        : 0;
                    if (frames.Length > 0)
                    {
                        // Checked frame by frame before anything is written; a forged or damaged batch changes nothing.
                        Store.ApplyCommitted(frames);
                        Interlocked.Add(ref _transactionsFetched, Store.DurableSeqno - from + 1);
                    }

                    if (Store.DurableSeqno >= peerEnd)
                    {
                        // This peer has nothing more (for now).
                        reachedPeerEnd = true;
                        break;
                    }
                }

                if (Store.DurableSeqno >= targetSeqno || (targetSeqno == long.MaxValue && reachedPeerEnd))
                {
                    LogCaughtUp(before, url, started);
                    return true;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or LedgerCorruptException && !cancellationToken.IsCancellationRequested)
            {
                LogMessages.CatchUpPeerFailed(_logger, url, ex);
            }
        }

        return Store.DurableSeqno >= targetSeqno;
    }

    private void LogCaughtUp(long before, Uri url, long started)
    {
        if (Store.DurableSeqno > before)
        {
            LogMessages.CaughtUpFromPeer(_logger, Store.DurableSeqno - before, url, Store.DurableSeqno, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>
    /// The Host a request to the member at <paramref name="url"/> names for this ledger, <c>{name}.{domain}:{port}</c>: the
    /// member routes the request to it and, as the client sends it as the TLS server name, answers with this ledger's
    /// node certificate, which <see cref="PeerClient"/> and the forwarder check against this ledger's service identity.
    /// Every member of a cluster has the same <c>--domain</c>.
    /// </summary>
    internal string HostOn(Uri url) => $"{Name.Value}.{Options.Domain}:{url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    private Forwarding.WriteForwarder? _forwarder;

    /// <summary>
    /// This ledger's client for writes a backup sends on to the primary: made at the first, kept until the ledger
    /// closes. It presents this ledger's node certificate and takes a primary endorsed by this ledger's service identity.
    /// </summary>
    internal Forwarding.WriteForwarder Forwarder(Microsoft.Extensions.Logging.ILogger logger)
    {
        if (Volatile.Read(ref _forwarder) is { } existing)
        {
            return existing;
        }

        var forwarder = new Forwarding.WriteForwarder(Tls, Service.Certificate, Options.ForwardTimeout, logger);
        if (Interlocked.CompareExchange(ref _forwarder, forwarder, null) is { } raced)
        {
            forwarder.Dispose();
            return raced;
        }

        return forwarder;
    }

    /// <summary>
    /// This ledger's client for member-to-member HTTPS (catch-up; forwarded writes have their own, see
    /// <c>WriteForwarder</c>): presents this ledger's node certificate and accepts a server only if the ledger's service
    /// identity endorsed its certificate.
    /// </summary>
    internal HttpClient PeerClient() => Forwarding.PeerHttp.Ensure(ref _peerClient, Tls, Service.Certificate);
}
