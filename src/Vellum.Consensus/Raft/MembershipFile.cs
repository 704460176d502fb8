using System.Net;
using DotNext.Buffers;
using DotNext.Net;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Vellum.Consensus.Raft;

/// <summary>
/// The cluster membership, kept in a file beside the WAL so that a restarted node knows its peers. DotNext writes it
/// (atomically: temp file, rename, directory fsync) whenever a configuration entry is applied.
/// </summary>
/// <remarks>
/// In-memory storage is not enough for dynamic membership: the WAL starts applying committed entries in its
/// constructor, before the cluster attaches its configuration storage to it, so configuration entries replayed on
/// restart can be passed over; a file written during the previous run already holds their result.
/// </remarks>
internal sealed class MembershipFile(string path) : PersistentClusterConfigurationStorage<EndPoint>(path)
{
    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer) => EndPointFormatter.WriteEndPoint(ref writer, address);

    protected override EndPoint Decode(ref SequenceReader reader) => EndPointFormatter.ReadEndPoint(ref reader);
}
