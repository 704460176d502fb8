using Vellum.Consensus;

namespace Vellum.TestSupport.Consensus;

/// <summary>
/// A deterministic, in-process group of <see cref="InMemoryConsensusNode"/>s for tests of the layers above consensus.
/// There are no timers and no background work: the test elects leaders, isolates and heals nodes, and every effect
/// (replication, commit, apply) has happened by the time the call that caused it returns.
/// </summary>
/// <remarks>
/// The network model is deliberately small: a node is either connected to every other connected node, or isolated
/// from all of them. Within it the rules are Raft's: a leader needs a majority of the whole group (counting itself)
/// to commit; an election needs a majority of connected voters, and the candidate's log must be at least as up to
/// date as theirs; a leader that meets a higher term steps down, and its uncommitted suffix is replaced by the new
/// leader's log. There is no persistence: a node's log lives as long as the cluster object.
/// </remarks>
public sealed class InMemoryConsensusCluster
{
    private readonly InMemoryConsensusNode[] _nodes;

    /// <param name="nodeCount">The group size, 1 or more.</param>
    public InMemoryConsensusCluster(int nodeCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        _nodes = new InMemoryConsensusNode[nodeCount];
        for (var i = 0; i < nodeCount; i++)
        {
            _nodes[i] = new InMemoryConsensusNode(this, i);
        }
    }

    /// <summary>The number of nodes.</summary>
    public int Count => _nodes.Length;

    /// <summary>How many nodes must hold an entry for it to commit, and how many votes elect a leader.</summary>
    public int Majority => (_nodes.Length / 2) + 1;

    /// <summary>Node <paramref name="index"/> (0-based).</summary>
    public InMemoryConsensusNode this[int index] => _nodes[index];

    /// <summary>The nodes, in index order.</summary>
    public IReadOnlyList<InMemoryConsensusNode> Nodes => _nodes;

    // One lock for the whole group: the model is a single consistent state, changed one step at a time.
    internal Lock SyncRoot { get; } = new();

    /// <summary>
    /// Makes node <paramref name="index"/> leader of a new term (one higher than any term in the group): every
    /// connected node adopts the term (a connected leader steps down), the new leader appends its no-op entry, and
    /// that entry commits and is applied on connected nodes that are started.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The node is isolated, fewer than a majority of nodes are connected, or a connected node's log is more up to
    /// date than the candidate's (Raft would not elect it).
    /// </exception>
    public async ValueTask ElectLeaderAsync(int index, CancellationToken token = default)
    {
        var candidate = _nodes[index];
        List<Action> after = [];
        lock (SyncRoot)
        {
            if (candidate.Isolated)
            {
                throw new InvalidOperationException($"Node {index} is isolated and cannot win an election.");
            }

            var connected = Connected();
            if (connected.Count < Majority)
            {
                throw new InvalidOperationException($"Only {connected.Count} nodes are connected; an election needs {Majority}.");
            }

            foreach (var voter in connected)
            {
                if (voter.CompareLogTo(candidate) > 0)
                {
                    throw new InvalidOperationException($"Node {voter.NodeIndex}'s log is more up to date than node {index}'s.");
                }
            }

            var term = MaxTerm() + 1;
            foreach (var node in connected)
            {
                node.AdoptTerm(term, leader: candidate, after);
            }

            candidate.BecomeLeader(after);
            ReplicateFrom(candidate);
        }

        await ApplyAsync(after, token).ConfigureAwait(false);
    }

    /// <summary>Cuts node <paramref name="index"/> off from every other node until <see cref="HealAsync"/>.</summary>
    public void Isolate(int index)
    {
        lock (SyncRoot)
        {
            _nodes[index].Isolated = true;
        }
    }

    /// <summary>
    /// Reconnects every node that is not disposed. The leader of the highest term (if any) replicates its log to all nodes: other leaders
    /// step down (their pending writes fail with <see cref="ConsensusNotLeaderException"/>), divergent uncommitted
    /// suffixes are replaced, and what now has a majority commits and is applied.
    /// </summary>
    public async ValueTask HealAsync(CancellationToken token = default)
    {
        List<Action> after = [];
        lock (SyncRoot)
        {
            foreach (var node in _nodes)
            {
                // A disposed node is gone for good.
                node.Isolated = node.Stopped;
            }

            InMemoryConsensusNode? leader = null;
            foreach (var node in _nodes)
            {
                if (node.IsLeaderOfItsTerm && (leader is null || node.CurrentTerm > leader.CurrentTerm))
                {
                    leader = node;
                }
            }

            var term = MaxTerm();
            foreach (var node in _nodes)
            {
                node.AdoptTerm(term, leader, after);
            }

            // The guard is for a leader that had to step down while adopting the highest term; by construction the
            // highest term always belongs to the last leader elected, so it does not happen.
            if (leader is not null && leader.IsLeaderOfItsTerm)
            {
                ReplicateFrom(leader);
            }
        }

        await ApplyAsync(after, token).ConfigureAwait(false);
    }

    /// <summary>
    /// The leader's side of AppendEntries, done at once: connected followers take the leader's log (replacing any
    /// divergent suffix), and the commit index moves to the leader's last entry if a majority of the whole group holds
    /// it. Raft commits only entries of the leader's own term by counting; earlier ones commit with them, which is
    /// what taking the last index does here, since the leader's last entry is always of its own term.
    /// </summary>
    internal void ReplicateFrom(InMemoryConsensusNode leader)
    {
        var holders = 1;
        if (!leader.Isolated)
        {
            foreach (var follower in _nodes)
            {
                if (follower != leader && !follower.Isolated)
                {
                    follower.CopyLogFrom(leader);
                    holders++;
                }
            }
        }

        if (holders >= Majority)
        {
            var commit = leader.LastIndex;
            leader.AdvanceCommit(commit);
            if (!leader.Isolated)
            {
                foreach (var follower in _nodes)
                {
                    if (follower != leader && !follower.Isolated)
                    {
                        follower.AdvanceCommit(commit);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Runs what the locked step deferred (cancelling leadership tokens and raising events run user callbacks, so
    /// never under the lock), then applies what each node has committed, outside the lock because appliers are async.
    /// An applier's exception surfaces from the call that caused the apply.
    /// </summary>
    internal async ValueTask ApplyAsync(List<Action> after, CancellationToken token)
    {
        foreach (var action in after)
        {
            action();
        }

        foreach (var node in _nodes)
        {
            await node.ApplyCommittedAsync(token).ConfigureAwait(false);
        }
    }

    private List<InMemoryConsensusNode> Connected()
    {
        List<InMemoryConsensusNode> connected = [];
        foreach (var node in _nodes)
        {
            if (!node.Isolated)
            {
                connected.Add(node);
            }
        }

        return connected;
    }

    private long MaxTerm()
    {
        long max = 0;
        foreach (var node in _nodes)
        {
            max = Math.Max(max, node.CurrentTerm);
        }

        return max;
    }
}
