using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Auth;

namespace Vellum.Node.Tests;

/// <summary>
/// The node-endorsement cache is keyed by certificate and ledger: once a node hosts several ledgers, a node certificate
/// one ledger's service key endorsed must not pass for another ledger, whichever is asked first.
/// </summary>
public sealed class NodeCallerTests
{
    [Fact]
    public void A_node_certificate_endorsed_by_one_service_identity_is_refused_for_another_whatever_the_order()
    {
        using var alpha = ServiceIdentity.Create();
        using var beta = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(alpha);
        using var tls = node.CreateTlsCertificate();

        // The same certificate instance (as Kestrel hands it to every request of a connection), asked of both.
        Assert.True(NodeCaller.IsEndorsedNode(tls, alpha.Certificate));
        Assert.False(NodeCaller.IsEndorsedNode(tls, beta.Certificate));
        Assert.True(NodeCaller.IsEndorsedNode(tls, alpha.Certificate));

        using var other = NodeIdentity.Create(beta);
        using var otherTls = other.CreateTlsCertificate();
        Assert.True(NodeCaller.IsEndorsedNode(otherTls, beta.Certificate));
        Assert.False(NodeCaller.IsEndorsedNode(otherTls, alpha.Certificate));
        Assert.False(NodeCaller.IsEndorsedNode(null, alpha.Certificate));
    }

    [Fact]
    public void A_retired_node_is_refused_on_the_same_connection_from_the_moment_it_is_retired()
    {
        using var alpha = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(alpha);
        using var tls = node.CreateTlsCertificate();
        var retired = new Retired();

        Assert.True(NodeCaller.IsEndorsedNode(tls, alpha.Certificate, retired));
        retired.Ids.Add(Hash32.ParseHex(node.NodeId));
        // The same certificate instance (the endorsement is cached for it): the retired list is read on every call.
        Assert.False(NodeCaller.IsEndorsedNode(tls, alpha.Certificate, retired));
        Assert.True(NodeCaller.IsEndorsedNode(tls, alpha.Certificate));
    }

    private sealed class Retired : IRetiredNodes
    {
        public HashSet<Hash32> Ids { get; } = [];

        public bool IsRetired(in Hash32 nodeId) => Ids.Contains(nodeId);
    }
}
