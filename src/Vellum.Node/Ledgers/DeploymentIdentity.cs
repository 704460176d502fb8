using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Vellum.Core.Identity;
using Vellum.Node.Service;
using Vellum.Storage;

namespace Vellum.Node.Ledgers;

/// <summary>
/// A cluster's identity as a deployment, apart from any ledger's: the service key that endorses every member's node
/// certificate on the node channel (Raft), this node's certificate for that channel, and the secret join tokens are
/// derived from. Kept in <c>node/deployment/</c> (see <see cref="DataDirectory.OpenOrCreateDeployment"/>); made at the
/// first start of a cluster's first member, handed to the others by <c>--identity-from</c> and joins.
/// </summary>
/// <remarks>
/// A deployment upgraded from a version without one adopted the ledger <c>default</c>'s service key (the one that
/// endorsed its members until then) with a secret derived from <c>default</c>'s, never a copy of it. Member-to-member
/// HTTPS (forwarding, catch-up, a ledger's material) still authenticates per ledger, with each ledger's node
/// certificate, and the retired node keys are still <c>default</c>'s governance.
/// </remarks>
public sealed class DeploymentIdentity : IDisposable
{
    private readonly DataDirectory _data;
    private readonly byte[] _secret;
    private NodeIdentity _node; // the current one: renewed in place while the node runs

    private DeploymentIdentity(DataDirectory data, ServiceIdentity service, NodeIdentity node, byte[] secret, bool adopted)
    {
        _data = data;
        Service = service;
        _node = node;
        _secret = secret;
        Adopted = adopted;
        Tls = new NodeTlsCertificate(node);
        JoinKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: null, info: Encoding.UTF8.GetBytes("vellum deployment " + JoinToken.KeyPurpose));
    }

    /// <summary>The deployment's service identity (with its private key): what the node channel's certificates chain to.</summary>
    public ServiceIdentity Service { get; }

    /// <summary>This node's certificate on the node channel, as first loaded (<see cref="Tls"/> presents the current one).</summary>
    public NodeIdentity Node => Volatile.Read(ref _node);

    /// <summary>What the node channel presents, client and server: this node's key endorsed by <see cref="Service"/>.</summary>
    public NodeTlsCertificate Tls { get; }

    /// <summary>The key join tokens are made and checked with (HKDF of the deployment secret).</summary>
    public byte[] JoinKey { get; }

    /// <summary>Whether this start made the identity by adopting <c>default</c>'s service key (an upgrade).</summary>
    public bool Adopted { get; }

    /// <summary>Opens the deployment identity of <paramref name="data"/>, or makes it (see <see cref="DataDirectory.OpenOrCreateDeployment"/>).</summary>
    public static DeploymentIdentity OpenOrCreate(DataDirectory data, ILogger logger)
    {
        var (service, node, secret, adopted) = data.OpenOrCreateDeployment();
        if (adopted)
        {
            LogMessages.DeploymentIdentityAdopted(logger, data.Deployment);
        }

        var identity = new DeploymentIdentity(data, service, node, secret, adopted);
        identity.RenewIfDue(logger);
        return identity;
    }

    /// <summary>What a join hands over (PEM certificate and key, the secret as hex): the keys of the deployment.</summary>
    public (string ServiceCertificatePem, string ServicePrivateKeyPem, string SecretHex) Material() =>
        (Service.ExportCertificatePem(), Service.ExportPrivateKeyPem(), Convert.ToHexStringLower(_secret));

    /// <summary>
    /// Renews this node's certificate for the node channel once less than a third of its lifetime is left, and presents
    /// the new one on every new connection from then on; called at start and on the node-wide renewal timer.
    /// </summary>
    public void RenewIfDue(ILogger logger)
    {
        var current = Node;
        if (!current.ShouldRenew(DateTimeOffset.UtcNow))
        {
            return;
        }

        try
        {
            var renewed = current.Renew(Service);
            Vellum.Storage.IO.Durability.WriteFileAtomic(_data.DeploymentNodeCertificate, Encoding.ASCII.GetBytes(renewed.ExportCertificatePem()));
            LogMessages.RenewedNodeCertificate(logger, current.Certificate.NotAfter.ToUniversalTime(), renewed.Certificate.NotAfter.ToUniversalTime(), _data.DeploymentNodeCertificate);
            Tls.Replace(renewed);
            Volatile.Write(ref _node, renewed); // the old one is left to the collector: a handshake may still read it
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            LogMessages.NodeCertificateRenewalFailed(logger, ex);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Node.Dispose();
        Service.Dispose();
        CryptographicOperations.ZeroMemory(_secret);
    }
}
