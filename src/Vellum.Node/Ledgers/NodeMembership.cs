using System.Net;
using Vellum.Consensus;
using Vellum.Core.Primitives;
using Vellum.Node.Service;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Ledgers;

/// <summary>
/// A cluster member's view of the deployment's members, and the changes to them: the other members' addresses and
/// node ids (<see cref="ClusterPeers"/>: the peers file and what discovery learns), what each last reported, and adding
/// or removing a member of the one consensus group every ledger shares. The node's, not any ledger's: a ledger reads
/// its primary's address from the same peers, and the node key retirement that precedes a removal is a deployment entry
/// of the consensus log (see <see cref="LedgerRegistry.RetireNodeAsync"/>).
/// </summary>
public sealed class NodeMembership
{
    private readonly NodeOptions _options;
    private readonly ConsensusGroup _group;
    private readonly ClusterPeers _peers;
    private readonly Hash32 _nodeId;

    internal NodeMembership(NodeOptions options, ConsensusGroup group, ClusterPeers peers, DeploymentIdentity identity)
    {
        _options = options;
        _group = group;
        _peers = peers;
        _nodeId = Hash32.ParseHex(identity.Node.NodeId); // of the node key, which every certificate of this node shares
    }

    /// <summary>The consensus group's log, once it runs.</summary>
    public IConsensusLog? Log => _group.Log;

    /// <summary>Whether this node leads the consensus group (is the deployment's primary).</summary>
    public bool IsPrimary => _group.Log?.IsLeader ?? false;

    /// <summary>The primary's client address, when this node knows who leads and where it listens.</summary>
    public Uri? PrimaryUrl => _peers.UrlOf(_group.Log?.LeaderEndPoint);

    /// <summary>The other members this node knows the client address of (node-channel address → URL).</summary>
    public IReadOnlyDictionary<string, Uri> Peers => _peers.Peers;

    /// <summary>What each member (by client URL, no trailing slash) last said of itself, from the node's discovery loop.</summary>
    public IReadOnlyDictionary<string, PeerStatus> Statuses => _peers.Statuses;

    /// <summary>
    /// The node id of the member at node-channel address <paramref name="nodeAddress"/>, when known: this node's own, or
    /// as discovery learnt it.
    /// </summary>
    public Hash32? NodeIdOf(string nodeAddress) =>
        _options.NodeListen?.ToString() == nodeAddress ? _nodeId : _peers.NodeIdOf(nodeAddress);

    /// <summary>Forgets a member (a retired one): it leaves <c>/node/network</c>, catch-up and forwarding.</summary>
    public void Forget(string nodeAddress) => _peers.Forget(nodeAddress);

    /// <summary>
    /// Adds the node at <paramref name="nodeAddress"/> to the group (primary only) and remembers its client address
    /// (kept in <c>node/peers</c>, so that a restart keeps forwarding right). False when Raft did not add it (a member
    /// already, or another change in progress).
    /// </summary>
    /// <exception cref="NotPrimaryException">This node is not the primary (or stopped being it).</exception>
    public async Task<bool> AddMemberAsync(IPEndPoint nodeAddress, Uri url, CancellationToken cancellationToken)
    {
        var log = LeaderLog();
        _peers.Remember(nodeAddress.ToString(), url);
        try
        {
            return await log.AddMemberAsync(nodeAddress, cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new NotPrimaryException(ex.Message, ex);
        }
    }

    /// <summary>Takes the node at <paramref name="nodeAddress"/> out of the group (primary only); false when Raft did not.</summary>
    /// <exception cref="NotPrimaryException">This node is not the primary (or stopped being it).</exception>
    public async Task<bool> RemoveMemberAsync(IPEndPoint nodeAddress, CancellationToken cancellationToken)
    {
        var log = LeaderLog();
        try
        {
            return await log.RemoveMemberAsync(nodeAddress, cancellationToken).ConfigureAwait(false);
        }
        catch (ConsensusNotLeaderException ex)
        {
            throw new NotPrimaryException(ex.Message, ex);
        }
    }

    private IConsensusLog LeaderLog() => _group.Log is { IsLeader: true } log ? log : throw new NotPrimaryException();
}
