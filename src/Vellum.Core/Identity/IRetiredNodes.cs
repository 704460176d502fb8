using Vellum.Core.Primitives;

namespace Vellum.Core.Identity;

/// <summary>
/// The node keys the service has retired (see <see cref="Entries.NodeRetirementEntry"/>): a certificate of a retired
/// key is no node of the service, even when the service key endorsed it and it is within its validity period.
/// </summary>
public interface IRetiredNodes
{
    /// <summary>True when the node with id <paramref name="nodeId"/> (SHA-256 of its public key) has been retired.</summary>
    bool IsRetired(in Hash32 nodeId);
}
