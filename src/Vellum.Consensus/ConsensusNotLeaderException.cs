using System.Net;

namespace Vellum.Consensus;

/// <summary>
/// This node is not the leader, or stopped being leader before a write committed (the write's outcome is then
/// unknown; see <see cref="IConsensusLog.ReplicateAsync"/>).
/// </summary>
public sealed class ConsensusNotLeaderException : InvalidOperationException
{
    public ConsensusNotLeaderException()
        : this("This node is not the consensus leader.")
    {
    }

    public ConsensusNotLeaderException(string message)
        : base(message)
    {
    }

    public ConsensusNotLeaderException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public ConsensusNotLeaderException(string message, EndPoint? leader, Exception? innerException = null)
        : base(message, innerException)
    {
        Leader = leader;
    }

    /// <summary>The leader this node knew of when the exception was thrown, if any: a hint for forwarding.</summary>
    public EndPoint? Leader { get; }
}
