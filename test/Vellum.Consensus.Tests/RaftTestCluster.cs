using System.Diagnostics;
using System.Net;
using Vellum.Consensus.Raft;
using Vellum.Core.Identity;

namespace Vellum.Consensus.Tests;

/// <summary>Raft nodes in this process on 127.0.0.1, each with its own port, WAL folder and node certificate.</summary>
internal sealed class RaftTestCluster : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vellum-raft-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _identities = [];

    public RaftTestCluster(int size)
    {
        Service = ServiceIdentity.Create();
        _identities.Add(Service);
        EndPoints = [.. Enumerable.Range(0, size).Select(_ => new IPEndPoint(IPAddress.Loopback, Vellum.TestSupport.Cluster.ClusterProcess.FreePort()))];
        Nodes = new RaftConsensus?[size];
        Appliers = new RecordingApplier[size];
        Identities = new NodeIdentity[size];
        for (var i = 0; i < size; i++)
        {
            Identities[i] = NodeIdentity.Create(Service);
            _identities.Add(Identities[i]);
            Appliers[i] = new RecordingApplier();
        }
    }

    public ServiceIdentity Service { get; }

    public IPEndPoint[] EndPoints { get; }

    public RaftConsensus?[] Nodes { get; }

    public RecordingApplier[] Appliers { get; }

    public NodeIdentity[] Identities { get; }

    public LogSink Logs { get; } = new();

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(15);

    /// <summary>Gives node <paramref name="i"/> another certificate (disposed with the cluster).</summary>
    public void UseIdentity(int i, NodeIdentity identity)
    {
        Identities[i] = identity;
        _identities.Add(identity);
    }

    public string WalPath(int i) => Path.Combine(_root, $"node{i}");

    /// <summary>Starts node <paramref name="i"/> with static membership of all endpoints (unless told otherwise).</summary>
    public async Task<RaftConsensus> StartAsync(int i, RecordingApplier? applier = null, bool coldStart = false, bool join = false)
    {
        Assert.Null(Nodes[i]);
        if (applier is not null)
        {
            Appliers[i] = applier;
        }

        var node = Create(i, coldStart, join);
        await node.StartAsync(Appliers[i], CancellationToken.None).AsTask().WaitAsync(Timeout);
        return node;
    }

    /// <summary>Makes node <paramref name="i"/> without starting it (the caller starts it, and the cluster disposes it).</summary>
    public RaftConsensus Create(int i, bool coldStart = false, bool join = false)
    {
        Assert.Null(Nodes[i]);
        var node = new RaftConsensus(new RaftConsensusOptions
        {
            LocalEndPoint = EndPoints[i],
            Members = coldStart || join ? [] : EndPoints,
            ColdStart = coldStart,
            WalPath = WalPath(i),
            NodeIdentity = Identities[i],
            ServiceCertificate = Service.Certificate,
            LoggerFactory = Logs,
        });
        Nodes[i] = node;
        return node;
    }

    public async Task StartAllAsync()
    {
        for (var i = 0; i < Nodes.Length; i++)
        {
            await StartAsync(i);
        }
    }

    public async Task StopAsync(int i)
    {
        var node = Nodes[i] ?? throw new InvalidOperationException($"Node {i} is not running.");
        Nodes[i] = null;
        await node.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    /// <summary>Waits until exactly one running node (of those given) is a ready leader, and returns its index.</summary>
    public async Task<int> WaitForLeaderAsync(TimeSpan? timeout = null, IEnumerable<int>? among = null)
    {
        var candidates = (among ?? Enumerable.Range(0, Nodes.Length)).ToArray();
        var leader = -1;
        await WaitUntilAsync(
            () =>
            {
                var leaders = candidates.Where(i => Nodes[i]?.IsLeader == true).ToArray();
                leader = leaders.Length == 1 ? leaders[0] : -1;
                return leader >= 0;
            },
            timeout ?? Timeout,
            "a single leader");
        return leader;
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync().AsTask().WaitAsync(Timeout);
            }
        }

        Logs.WriteTo(TestContext.Current.TestOutputHelper);
        foreach (var identity in _identities)
        {
            identity.Dispose();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
