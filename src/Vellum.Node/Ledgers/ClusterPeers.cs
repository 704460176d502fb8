using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Vellum.Consensus;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Service;
using Vellum.Storage;

namespace Vellum.Node.Ledgers;

/// <summary>
/// The other members of a cluster as this node knows them: node-channel address → client URL and node id, and what
/// each last said of itself. One per node, shared by its ledgers (they have one Raft group, so one set of members).
/// </summary>
/// <remarks>
/// Kept in <c>node/peers</c> (a line per member: address, URL and, once known, node id) so that a restart keeps
/// redirecting and forwarding right, and can still name the key of a member that is down when an Administrator
/// retires it. Members learn each other's client addresses and node ids by asking the members they know for
/// <c>/node/network</c> every two seconds (a node that joined
/// knows only the members of its time; a write redirect needs the primary's address): one loop for the node,
/// <see cref="DiscoverAsync"/>, which also asks members of the consensus group it has no address of over the node channel.
/// </remarks>
public sealed class ClusterPeers
{
    private readonly ConcurrentDictionary<string, Uri> _peers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PeerStatus> _statuses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Hash32> _nodeIds = new(StringComparer.Ordinal);
    private readonly string _file;
    private readonly string? _self;
    private readonly Lock _fileLock = new();

    /// <summary>Reads <c>node/peers</c> of <paramref name="data"/> and adds the peers the options name.</summary>
    public ClusterPeers(NodeOptions options, DataDirectory data)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        _file = data.PeersFile;
        _self = options.NodeListen?.ToString();
        if (File.Exists(_file))
        {
            foreach (var line in File.ReadAllLines(_file))
            {
                var parts = line.Split(' ', 3);
                if (parts.Length >= 2 && Uri.TryCreate(parts[1], UriKind.Absolute, out var url))
                {
                    _peers[parts[0]] = url;
                    if (parts.Length == 3 && Hash32.TryParseHex(parts[2], out var nodeId))
                    {
                        _nodeIds[parts[0]] = nodeId;
                    }
                }
            }
        }

        foreach (var peer in options.Peers)
        {
            _peers[peer.NodeEndPoint.ToString()] = peer.Url;
        }
    }

    /// <summary>The other members whose client address this node knows (node-channel address → URL).</summary>
    public IReadOnlyDictionary<string, Uri> Peers => _peers;

    /// <summary>What each member (by client URL, no trailing slash) last said of itself, from <see cref="DiscoverAsync"/>.</summary>
    public IReadOnlyDictionary<string, PeerStatus> Statuses => _statuses;

    /// <summary>The client URL of the member at node-channel address <paramref name="member"/>, when known.</summary>
    public Uri? UrlOf(EndPoint? member) => member is not null && _peers.TryGetValue(member.ToString()!, out var url) ? url : null;

    /// <summary>The node id of the member at node-channel address <paramref name="nodeAddress"/>, when known.</summary>
    public Hash32? NodeIdOf(string nodeAddress) => _nodeIds.TryGetValue(nodeAddress, out var id) ? id : null;

    /// <summary>Records a member's client address (not this node's own) and writes the file.</summary>
    public void Remember(string nodeAddress, Uri url)
    {
        if (_self == nodeAddress)
        {
            return;
        }

        _peers[nodeAddress] = url;
        Write();
    }

    /// <summary>Records the node id a member reported for itself or another member (not this node's own), and writes the file when it is new.</summary>
    public void RememberNodeId(string nodeAddress, Hash32 nodeId)
    {
        if (_self == nodeAddress || !_peers.ContainsKey(nodeAddress) || (_nodeIds.TryGetValue(nodeAddress, out var known) && known == nodeId))
        {
            return;
        }

        _nodeIds[nodeAddress] = nodeId;
        Write();
    }

    /// <summary>Forgets the member at <paramref name="nodeAddress"/> (a retired one) and writes the file.</summary>
    public void Forget(string nodeAddress)
    {
        if (!_peers.TryRemove(nodeAddress, out var url))
        {
            return;
        }

        _nodeIds.TryRemove(nodeAddress, out _);
        if (!_peers.Values.Contains(url))
        {
            _statuses.TryRemove(url.ToString().TrimEnd('/'), out _);
        }

        Write();
    }

    /// <summary>Forgets every member whose node id <paramref name="retired"/> names.</summary>
    private void ForgetRetired(IRetiredNodes retired)
    {
        foreach (var (address, nodeId) in _nodeIds.ToArray())
        {
            if (retired.IsRetired(nodeId))
            {
                Forget(address);
            }
        }
    }

    /// <summary>
    /// Asks each member of the consensus group whose client address this node does not know for it, over the node
    /// channel (<see cref="IConsensusLog.DescribeMemberAsync"/>, <see cref="UrlKey"/>), all at once and for two seconds
    /// at most: a member that joined after this one is otherwise learnt only from a member that knows it, and if those
    /// are all down, never.
    /// </summary>
    private async Task AskUnknownMembersAsync(IConsensusLog log, CancellationToken stopping)
    {
        List<Task>? asks = null;
        foreach (var member in log.Members)
        {
            if (!member.IsLocal && member.EndPoint.ToString() is { } address && !_peers.ContainsKey(address))
            {
                (asks ??= []).Add(AskAsync(member.EndPoint, address));
            }
        }

        if (asks is not null)
        {
            await Task.WhenAll(asks).ConfigureAwait(false);
        }

        async Task AskAsync(EndPoint member, string address)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            deadline.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                if (await log.DescribeMemberAsync(member, deadline.Token).ConfigureAwait(false) is { } metadata &&
                    metadata.TryGetValue(UrlKey, out var text) && Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps)
                {
                    Remember(address, url);
                }
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested && ex is OperationCanceledException or IOException or InvalidOperationException)
            {
                // That member did not answer in time, or could not be asked: the next round asks again. Nothing here may
                // end the discovery loop.
            }
        }
    }

    /// <summary>The key of a member's client URL in what it says of itself over the node channel.</summary>
    public const string UrlKey = "url";

    private void Write()
    {
        lock (_fileLock)
        {
            var lines = string.Join('\n', _peers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
                _nodeIds.TryGetValue(p.Key, out var id) ? $"{p.Key} {p.Value} {id}" : $"{p.Key} {p.Value}")) + "\n";
            Vellum.Storage.IO.OwnerOnly.WriteAllText(_file + ".tmp", lines);
            File.Move(_file + ".tmp", _file, overwrite: true);
        }
    }

    /// <summary>
    /// Until <paramref name="stopping"/>: every two seconds asks each known member for <c>/node/network</c> through
    /// <paramref name="client"/> (member-to-member TLS as the deployment, <see cref="DeploymentIdentity.HostOn"/>), two
    /// seconds at most each, and remembers the members it names;
    /// forgets, and does not learn again, the members whose node <paramref name="retired"/> names (so a retired member
    /// leaves <c>/node/network</c>, catch-up and forwarding on every member within a round of its retirement).
    /// </summary>
    public async Task DiscoverAsync(HttpClient client, IRetiredNodes retired, Func<IConsensusLog?> consensus, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(retired);
        ArgumentNullException.ThrowIfNull(consensus);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                ForgetRetired(retired);
                if (consensus() is { } log)
                {
                    await AskUnknownMembersAsync(log, stopping).ConfigureAwait(false);
                }

                foreach (var url in _peers.Values.Distinct().ToArray())
                {
                    try
                    {
                        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                        deadline.CancelAfter(TimeSpan.FromSeconds(2));
                        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/node/network"));
                        request.Headers.Host = DeploymentIdentity.HostOn(url); // asked as the deployment, and answered so
                        using var response = await client.SendAsync(request, deadline.Token).ConfigureAwait(false);
                        response.EnsureSuccessStatusCode();
                        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false));
                        var root = document.RootElement;
                        _statuses[url.ToString().TrimEnd('/')] = new PeerStatus(
                            root.GetProperty("role").GetString() ?? "Unknown", root.GetProperty("consensusCommitIndex").GetInt64(), DateTimeOffset.UtcNow);
                        foreach (var node in root.GetProperty("nodes").EnumerateArray())
                        {
                            if (node.GetProperty("nodeAddress").GetString() is not { } address)
                            {
                                continue;
                            }

                            Hash32? nodeId = node.TryGetProperty("nodeId", out var reported) && reported.GetString() is { } text && Hash32.TryParseHex(text, out var id) ? id : null;
                            if (nodeId is { } known && retired.IsRetired(known))
                            {
                                Forget(address);
                                continue;
                            }

                            if (!_peers.ContainsKey(address) && Uri.TryCreate(node.GetProperty("url").GetString(), UriKind.Absolute, out var found))
                            {
                                Remember(address, found);
                            }

                            if (nodeId is { } learnt)
                            {
                                RememberNodeId(address, learnt);
                            }
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
                    {
                        // That member is down or busy; the next round asks again.
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
