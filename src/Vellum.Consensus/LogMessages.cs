using System.Net;
using Microsoft.Extensions.Logging;

namespace Vellum.Consensus;

/// <summary>Every log event of the consensus layer. EventIds 3000–3999 belong to Vellum.Consensus.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(3000, LogLevel.Information, "Raft node {EndPoint} started: WAL {WalPath}, {Members} members, cold start {ColdStart}, applier at index {AppliedIndex}, log committed to {CommitIndex}", EventName = "RaftStarted")]
    public static partial void RaftStarted(ILogger logger, EndPoint endPoint, string walPath, int members, bool coldStart, long appliedIndex, long commitIndex);

    [LoggerMessage(3001, LogLevel.Information, "Raft node {EndPoint} stopped", EventName = "RaftStopped")]
    public static partial void RaftStopped(ILogger logger, EndPoint endPoint);

    [LoggerMessage(3002, LogLevel.Warning, "Rejected a node-channel peer: certificate {Subject} ({Thumbprint}) is not endorsed by the service identity or is outside its validity period", EventName = "PeerRejected")]
    public static partial void PeerRejected(ILogger logger, string subject, string thumbprint);

    [LoggerMessage(3012, LogLevel.Warning, "Rejected a node-channel peer: certificate {Subject} ({Thumbprint}) is of a retired node", EventName = "RetiredPeerRejected")]
    public static partial void RetiredPeerRejected(ILogger logger, string subject, string thumbprint);

    [LoggerMessage(3003, LogLevel.Warning, "Rejected a node-channel peer that presented no certificate ({Errors})", EventName = "PeerWithoutCertificate")]
    public static partial void PeerWithoutCertificate(ILogger logger, string errors);

    [LoggerMessage(3004, LogLevel.Information, "This node leads term {Term} and has applied everything before it", EventName = "LeadershipAcquired")]
    public static partial void LeadershipAcquired(ILogger logger, long term);

    [LoggerMessage(3005, LogLevel.Information, "This node no longer leads term {Term}", EventName = "LeadershipLost")]
    public static partial void LeadershipLost(ILogger logger, long term);

    [LoggerMessage(3006, LogLevel.Critical, "Applying committed entry {Index} (term {Term}) failed; this node applies nothing more until restarted", EventName = "ApplyFailed")]
    public static partial void ApplyFailed(ILogger logger, long index, long term, Exception exception);

    [LoggerMessage(3007, LogLevel.Error, "Leadership tracking stopped: the Raft node can no longer take part", EventName = "LeadershipTrackingFailed")]
    public static partial void LeadershipTrackingFailed(ILogger logger, Exception exception);


    [LoggerMessage(3009, LogLevel.Information, "Raft snapshot at index {Index} (term {Term}, {Bytes} bytes of state); the WAL drops the entries before it", EventName = "SnapshotTaken")]
    public static partial void SnapshotTaken(ILogger logger, long index, long term, int bytes);

    [LoggerMessage(3011, LogLevel.Critical, "The node log failed to write or to move to a new segment", EventName = "NodeLogFailed")]
    public static partial void NodeLogFailed(ILogger logger, Exception exception);

    [LoggerMessage(3010, LogLevel.Information, "The leader sent a snapshot at index {Index} (term {Term}); this node had applied up to {AppliedIndex} and catches up to it", EventName = "SnapshotReceived")]
    public static partial void SnapshotReceived(ILogger logger, long index, long term, long appliedIndex);

    [LoggerMessage(3013, LogLevel.Warning, "Member {Member} refused the snapshot at index {Index} because it already holds it (its answer to an earlier copy came too late); this leader would send it nothing else, so it steps down and the next term replicates to it from the log", EventName = "SnapshotAlreadyHeld")]
    public static partial void SnapshotAlreadyHeld(ILogger logger, EndPoint member, long index);
}
