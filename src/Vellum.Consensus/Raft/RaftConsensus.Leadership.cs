using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Vellum.Consensus.Raft;

public sealed partial class RaftConsensus
{
    private Task _tracker = Task.CompletedTask;

    // Set while this node is a ready leader (see IsLeader); written only by the tracker and by disposal.
    private volatile Leadership? _leadership;

    // Completed when a leadership is published; replaced (once completed) when it ends, so that waiting on a
    // follower waits for the next one.
    private volatile TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// True while this node leads and its term's first entry is committed and applied (DotNext's
    /// <c>WaitForLeadershipAsync</c>), as observed by this object's leadership tracker a moment after DotNext.
    /// </summary>
    public bool IsLeader => _leadership is { Token.IsCancellationRequested: false };

    /// <inheritdoc />
    public CancellationToken LeadershipToken => _leadership?.Token ?? new CancellationToken(canceled: true);

    /// <inheritdoc />
    public EndPoint? LeaderEndPoint => IsLeader ? _options.LocalEndPoint : _cluster?.Leader?.EndPoint;

    /// <inheritdoc />
    public async ValueTask WaitForLeaderReadyAsync(CancellationToken token)
    {
        RequireStarted();
        while (true)
        {
            await _ready.Task.WaitAsync(token).ConfigureAwait(false);
            if (IsLeader)
            {
                return;
            }

            // Lost again before we looked; the tracker is about to replace _ready. Do not spin while it does.
            await Task.Delay(10, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Follows this node's leaderships one after another: DotNext's <c>WaitForLeadershipAsync</c> completes when this
    /// node leads and has applied its term's first entry (the "write barrier"); the leadership then lasts until its
    /// token is cancelled.
    /// </summary>
    private async Task TrackLeadershipAsync(RaftCluster cluster, CancellationToken lifetime)
    {
        try
        {
            while (true)
            {
                var token = await cluster.WaitForLeadershipAsync(lifetime).ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    continue;
                }

                var term = await ReadLeaderTermAsync(token, lifetime).ConfigureAwait(false);
                if (term < 0)
                {
                    continue;
                }

                _leadership = new Leadership(term, token);
                _ready.TrySetResult();
                LogMessages.LeadershipAcquired(_logger, term);

                await WaitForCancellationAsync(token, lifetime).ConfigureAwait(false);
                ClearLeadership();
                LogMessages.LeadershipLost(_logger, term);
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (lifetime.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // WaitForLeadershipAsync fails for good when the node is a zombie (an internal failure, such as the
            // applier throwing) or was removed from the cluster: nothing more to track.
            LogMessages.LeadershipTrackingFailed(_logger, e);
        }
        finally
        {
            ClearLeadership();
        }
    }

    /// <summary>
    /// The term this node leads, or -1 if the leadership ended meanwhile. After an election it is the term of the
    /// committed write barrier (the leader's no-op), which is the last committed entry's term. The persisted current
    /// term is the same outside one moment: a deposed leader persists the higher term before it cancels its
    /// leadership token. A node that leads a one-member cluster from start-up has no barrier entry of its term; its
    /// term is the persisted one. The two cases differ in that only the first one's token is cancelled within one
    /// RPC timeout, which is what this waits to see when the two terms disagree.
    /// </summary>
    private async ValueTask<long> ReadLeaderTermAsync(CancellationToken leadership, CancellationToken lifetime)
    {
        var wal = _wal!;
        var persisted = ((IPersistentState)wal).Term;
        var committed = wal.LastCommittedEntryIndex;
        long entryTerm = 0;
        if (committed > 0)
        {
            using var entries = await wal.ReadAsync(committed, committed, lifetime).ConfigureAwait(false);
            entryTerm = entries[0].Term;
        }

        if (entryTerm != persisted)
        {
            await Task.Delay(_options.EffectiveRequestTimeout, lifetime).ConfigureAwait(false);
            if (((IPersistentState)wal).Term != persisted)
            {
                return -1;
            }
        }

        return leadership.IsCancellationRequested ? -1 : persisted;
    }

    private static async Task WaitForCancellationAsync(CancellationToken leadership, CancellationToken lifetime)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(leadership, lifetime);
        try
        {
            await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!lifetime.IsCancellationRequested)
        {
        }
    }

    private void ClearLeadership()
    {
        _leadership = null;
        var ready = _ready;
        if (ready.Task.IsCompleted)
        {
            _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>One leadership of this node: the term it leads and DotNext's token for it.</summary>
    private sealed record Leadership(long Term, CancellationToken Token);

    /// <summary>
    /// A member refused a snapshot it already holds (<see cref="SnapshotRefusalWatch"/>): this leader would send it only
    /// that snapshot from now on, so it steps down, and the next term replicates to the member from the log. At most
    /// once per ten election timeouts, so a member that keeps refusing cannot keep the cluster electing.
    /// </summary>
    private void OnSnapshotAlreadyHeld(EndPoint member, long index)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastStepDown);
        if (_cluster is not { } cluster || (last != 0 && now - last < 10L * _options.LowerElectionTimeout) ||
            Interlocked.CompareExchange(ref _lastStepDown, now, last) != last)
        {
            return;
        }

        LogMessages.SnapshotAlreadyHeld(_logger, member, index);

        // DotNext's replication is the caller (it is logging): step down on another thread.
        _ = Task.Run(async () =>
        {
            try
            {
                await cluster.StepDownAsync(_lifetime.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                // Stopping.
            }
        });
    }

    /// <summary>DotNext's TCP cluster, with its leader's own resignation (ICluster's asks a remote leader to resign when this node is not one).</summary>
    private sealed class Cluster(RaftCluster.NodeConfiguration configuration) : RaftCluster(configuration)
    {
        public ValueTask<bool> StepDownAsync(CancellationToken token) => ResignAsync(token);
    }
}
