using Microsoft.Extensions.Logging;
using Vellum.Consensus;
using Vellum.Core.Merkle;
using Vellum.Ledger;

namespace Vellum.Node.Ledgers;

/// <summary>
/// What every ledger of a node shares, made once by the registry and handed to each ledger it opens: the node's
/// consensus (a single node's log, or a cluster member's Raft group and its peers), the signature cadence and the
/// tile cache, so a ledger adds no thread, timer or cache of its own.
/// </summary>
/// <param name="NodeLog">A single node's durable log; null on a cluster member.</param>
/// <param name="Group">A cluster member's Raft group; null on a single node.</param>
/// <param name="Peers">A cluster member's other members; null on a single node.</param>
/// <param name="Clock">The node-wide signature cadence.</param>
/// <param name="Tiles">The node-wide cache of full Merkle tiles (<see cref="NodeOptions.TileCacheTiles"/>).</param>
/// <param name="Logger">The node's logger.</param>
internal sealed record NodeParts(NodeLog? NodeLog, ConsensusGroup? Group, ClusterPeers? Peers, SignatureClock Clock, TileCache Tiles, ILogger Logger);
