using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Vellum.Consensus.Raft;

/// <summary>
/// The logger factory handed to DotNext's <c>RaftCluster</c>: it passes every log event on to the node's own factory
/// and, on a leader, tells when a member refused a snapshot because it already holds that snapshot.
/// </summary>
/// <remarks>
/// <para>
/// Why: in DotNext 6.12 a follower answers an InstallSnapshot whose index it has already committed with a plain
/// failure (<c>RaftCluster.InstallSnapshotAsync</c> installs only when the index is above its commit index). The leader
/// takes a failure as a log mismatch: it lowers that member's next index, which keeps it at or below its snapshot, so
/// it sends the same snapshot again, and again — until it takes a newer snapshot, which an idle ledger may never make
/// it do. It happens when a member installs a snapshot and its answer reaches the leader after the request timed out
/// (a catch-up on a loaded machine): the member holds everything up to the snapshot and then hears nothing more, not
/// even heartbeats, so it never learns who leads; a restart does not help, since the leader's next index is what is
/// stuck. A new term is: a new leader starts every member's next index after its own last entry.
/// </para>
/// <para>
/// How it is seen: DotNext logs event 74018 (<c>InstallingSnapshot</c>: member, index) when its replication sends a
/// snapshot, and 74015 (<c>ReplicationFailed</c>: member, the lowered next index) when a member answers with a
/// failure. A failure answered to a snapshot, whose lowered next index is still below that snapshot's index, is a
/// refusal of a snapshot the member already holds (a member refuses a snapshot only for that reason, or for a higher
/// term, which DotNext reports otherwise). These are DotNext's log events, not a documented interface: the package is
/// pinned exactly, and a test that needs the recovery fails if an upgrade renames them.
/// </para>
/// </remarks>
internal sealed class SnapshotRefusalWatch(ILoggerFactory inner, Action<EndPoint, long> refused) : ILoggerFactory
{
    internal const int InstallingSnapshot = 74018;
    internal const int ReplicationFailed = 74015;

    // Per member: the index of the last snapshot sent that has had no failure answered since.
    private readonly ConcurrentDictionary<EndPoint, long> _sent = new();

    /// <summary>The category DotNext's cluster (and the replication it runs) logs under.</summary>
    internal const string ClusterCategory = "DotNext.Net.Cluster.Consensus.Raft.RaftCluster";

    // Only the cluster's logger is watched: the other loggers DotNext makes keep the node's own filter, so none of them
    // starts formatting events at levels the node leaves off.
    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName == ClusterCategory ? new Watcher(this, logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>Nothing: the factory it wraps belongs to the caller.</summary>
    public void Dispose()
    {
    }

    private void Observe<TState>(int eventId, TState state)
    {
        if (eventId is not (InstallingSnapshot or ReplicationFailed) || state is not IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            return;
        }

        EndPoint? member = null;
        long? index = null;
        foreach (var (key, value) in values)
        {
            switch (key)
            {
                case "Member":
                    member = value as EndPoint;
                    break;
                case "EntryIndex" when value is long l:
                    index = l;
                    break;
            }
        }

        if (member is null || index is not { } at)
        {
            return;
        }

        if (eventId == InstallingSnapshot)
        {
            _sent[member] = at;
        }
        else if (_sent.TryRemove(member, out var snapshot) && at < snapshot)
        {
            refused(member, snapshot);
        }
    }

    private sealed class Watcher(SnapshotRefusalWatch watch, ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        // The two events are Information and Warning: those levels must reach Log whatever the node's own filter says.
        public bool IsEnabled(LogLevel logLevel) => logLevel is LogLevel.Information or LogLevel.Warning || inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            watch.Observe(eventId.Id, state);
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
