using System.Net;
using System.Net.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Vellum.Consensus.Raft;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Consensus.Tests;

public sealed class RaftConsensusOptionsTests : IDisposable
{
    private static readonly IPEndPoint Local = new(IPAddress.Loopback, 7100);
    private readonly ServiceIdentity _service = ServiceIdentity.Create();
    private readonly NodeIdentity _node;

    public RaftConsensusOptionsTests() => _node = NodeIdentity.Create(_service);

    public void Dispose()
    {
        _node.Dispose();
        _service.Dispose();
    }

    private RaftConsensusOptions Options(
        IReadOnlyList<IPEndPoint>? members = null, bool coldStart = false, int lower = 500, int upper = 1000, TimeSpan? request = null,
        IPEndPoint? local = null) => new()
    {
        LocalEndPoint = local ?? Local,
        Members = members ?? [],
        ColdStart = coldStart,
        WalPath = "/tmp/unused",
        LowerElectionTimeout = lower,
        UpperElectionTimeout = upper,
        RequestTimeout = request,
        NodeIdentity = _node,
        ServiceCertificate = _service.Certificate,
    };

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var options = new RaftConsensusOptions
        {
            LocalEndPoint = Local,
            WalPath = "/tmp/unused",
            NodeIdentity = _node,
            ServiceCertificate = _service.Certificate,
        };

        Assert.Equal(500, options.LowerElectionTimeout);
        Assert.Equal(1000, options.UpperElectionTimeout);
        Assert.Null(options.RequestTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.EffectiveRequestTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.EffectiveConnectTimeout);
        Assert.Equal(4 * 1024 * 1024, options.WalChunkSize);
        Assert.False(options.ColdStart);
        Assert.Empty(options.Members);
        Assert.Same(NullLoggerFactory.Instance, options.LoggerFactory);
        Assert.Equal(10_000, options.SnapshotInterval);
        options.Validate();
    }

    [Fact]
    public void Invalid_settings_are_refused_by_name()
    {
        Assert.Equal("LowerElectionTimeout", Assert.Throws<ArgumentException>(() => Options(lower: 1000, upper: 1000).Validate()).ParamName);
        Assert.Equal("RequestTimeout", Assert.Throws<ArgumentException>(() => Options(request: TimeSpan.FromMilliseconds(501)).Validate()).ParamName);
        Assert.Equal("LocalEndPoint", Assert.Throws<ArgumentException>(() => Options(local: new IPEndPoint(IPAddress.Loopback, 0)).Validate()).ParamName);
        Assert.Equal("Members", Assert.Throws<ArgumentException>(() => Options(members: [new IPEndPoint(IPAddress.Loopback, 7101)]).Validate()).ParamName);
        Assert.Equal("Members", Assert.Throws<ArgumentException>(() => Options(members: [Local], coldStart: true).Validate()).ParamName);
        Assert.Throws<ArgumentException>(() => new RaftConsensus(Options(lower: 0)));
        Assert.Equal("SnapshotInterval", Assert.Throws<ArgumentException>(() => new RaftConsensusOptions
        {
            LocalEndPoint = Local, WalPath = "/tmp/unused", NodeIdentity = _node, ServiceCertificate = _service.Certificate, SnapshotInterval = -1,
        }.Validate()).ParamName);

        Options(members: [Local, new IPEndPoint(IPAddress.Loopback, 7101)], request: TimeSpan.FromMilliseconds(250)).Validate();
        Options(coldStart: true).Validate();
    }

    [Fact]
    public async Task Before_start_nothing_is_open_and_writes_are_refused()
    {
        await using var log = new RaftConsensus(Options());
        Assert.False(log.IsLeader);
        Assert.True(log.LeadershipToken.IsCancellationRequested);
        Assert.Empty(log.Members);
        Assert.Null(log.LeaderEndPoint);
        await Assert.ThrowsAsync<ArgumentException>(() => log.ReplicateAsync(ReadOnlyMemory<byte>.Empty, CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => log.ReplicateAsync(new byte[] { 1 }, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task A_damaged_snapshot_file_stops_the_start_rather_than_replaying_from_entries_the_WAL_dropped()
    {
        var wal = Path.Combine(Path.GetTempPath(), "vellum-snapshot-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(wal);
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(wal, "snapshot"), "VLMSNAP1 but not a snapshot"u8.ToArray());
            var options = new RaftConsensusOptions
            {
                LocalEndPoint = Local, WalPath = wal, ColdStart = true, NodeIdentity = _node, ServiceCertificate = _service.Certificate,
            };
            var log = new RaftConsensus(options);
            var failure = await Assert.ThrowsAsync<InvalidDataException>(() => log.StartAsync(new RecordingApplier(), CancellationToken.None).AsTask());
            Assert.Contains("snapshot", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(wal, recursive: true);
        }
    }

    [Fact]
    public void A_peer_is_accepted_only_with_a_certificate_endorsed_by_the_service_identity()
    {
        using var otherService = ServiceIdentity.Create();
        using var stranger = NodeIdentity.Create(otherService);
        var logs = new LogSink();
        var logger = logs.CreateLogger("test");

        // Chain errors are what every peer certificate has (our CA is in no trust store): they do not matter.
        const SslPolicyErrors errors = SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch;
        Assert.True(PeerAuthentication.IsEndorsedPeer(_node.Certificate, _service.Certificate, null, errors, logger));
        Assert.False(PeerAuthentication.IsEndorsedPeer(stranger.Certificate, _service.Certificate, null, SslPolicyErrors.None, logger));
        Assert.False(PeerAuthentication.IsEndorsedPeer(null, _service.Certificate, null, SslPolicyErrors.RemoteCertificateNotAvailable, logger));
        Assert.True(logs.Contains(3002));
        Assert.True(logs.Contains(3003));
    }

    [Fact]
    public void A_peer_whose_node_key_is_retired_is_refused_though_its_certificate_is_endorsed_and_current()
    {
        using var other = NodeIdentity.Create(_service);
        var logs = new LogSink();
        var logger = logs.CreateLogger("test");
        var retired = new Retired(Hash32.ParseHex(_node.NodeId));

        Assert.False(PeerAuthentication.IsEndorsedPeer(_node.Certificate, _service.Certificate, retired, SslPolicyErrors.None, logger));
        Assert.True(logs.Contains(3012));
        // A renewed certificate of the same key is the same node: refused too. Another node of the service is not.
        using var renewed = _node.Renew(_service);
        Assert.False(PeerAuthentication.IsEndorsedPeer(renewed.Certificate, _service.Certificate, retired, SslPolicyErrors.None, logger));
        Assert.True(PeerAuthentication.IsEndorsedPeer(other.Certificate, _service.Certificate, retired, SslPolicyErrors.None, logger));
    }

    private sealed class Retired(Hash32 nodeId) : IRetiredNodes
    {
        public bool IsRetired(in Hash32 id) => id == nodeId;
    }
}
