using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Consensus.Raft;

namespace Vellum.Consensus.Tests;

/// <summary>
/// What the watch takes for a refused snapshot, fed events shaped as DotNext 6.12 logs them (the end-to-end case,
/// with DotNext's own events, is in <see cref="ReplicatedLedgerTests"/>).
/// </summary>
public sealed class SnapshotRefusalWatchTests
{
    private static readonly IPEndPoint Member = new(IPAddress.Loopback, 7001);
    private static readonly IPEndPoint Other = new(IPAddress.Loopback, 7002);

    private static readonly Action<ILogger, EndPoint, long, Exception?> InstallingSnapshot = LoggerMessage.Define<EndPoint, long>(
        LogLevel.Information, new EventId(SnapshotRefusalWatch.InstallingSnapshot), "Installing snapshot for member {Member} at index {EntryIndex}");

    private static readonly Action<ILogger, EndPoint, long, Exception?> ReplicationFailed = LoggerMessage.Define<EndPoint, long>(
        LogLevel.Warning, new EventId(SnapshotRefusalWatch.ReplicationFailed), "Replication of {Member} is failed. Retry replication from entry {EntryIndex}");

    private static readonly Action<ILogger, EndPoint, Exception?> Unavailable = LoggerMessage.Define<EndPoint>(
        LogLevel.Warning, new EventId(74010), "Cluster member {Member} is unavailable");

    private readonly List<(EndPoint Member, long Index)> _refused = [];
    private readonly ILogger _logger;

    public SnapshotRefusalWatchTests()
    {
        _logger = new SnapshotRefusalWatch(NullLoggerFactory.Instance, (member, index) => _refused.Add((member, index))).CreateLogger(SnapshotRefusalWatch.ClusterCategory);
    }

    [Fact]
    public void A_failure_answered_to_a_snapshot_with_the_next_index_below_it_is_a_refusal()
    {
        Assert.True(_logger.IsEnabled(LogLevel.Information) && _logger.IsEnabled(LogLevel.Warning), "the events must reach the watch with every other logger off");
        InstallingSnapshot(_logger, Member, 35, null);
        ReplicationFailed(_logger, Member, 7, null);

        Assert.Equal([(Member, 35L)], _refused);

        // Each snapshot sent counts once: a second failure without a new snapshot is not another refusal.
        ReplicationFailed(_logger, Member, 6, null);
        Assert.Single(_refused);
    }

    [Fact]
    public void Failures_answered_to_entries_are_not_refusals()
    {
        // A log mismatch before any snapshot, one after a snapshot the member took (its next index past the snapshot),
        // and a snapshot to one member followed by a failure from another.
        ReplicationFailed(_logger, Member, 40, null);
        InstallingSnapshot(_logger, Member, 35, null);
        ReplicationFailed(_logger, Member, 36, null);
        InstallingSnapshot(_logger, Other, 35, null);
        ReplicationFailed(_logger, Member, 2, null);

        Assert.Empty(_refused);
    }

    [Fact]
    public void A_snapshot_sent_to_a_member_that_was_unreachable_and_then_refused_counts_once()
    {
        // Unreachable: DotNext logs the member unavailable (74010) and sends the snapshot again at the next round.
        InstallingSnapshot(_logger, Member, 35, null);
        Unavailable(_logger, Member, null);
        InstallingSnapshot(_logger, Member, 35, null);
        ReplicationFailed(_logger, Member, 2, null);

        Assert.Equal([(Member, 35L)], _refused);
        Assert.False(_logger.IsEnabled(LogLevel.Debug), "levels the node's own loggers leave off stay off");
    }
}
