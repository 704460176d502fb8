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
/// endorsed its members until then) with a secret derived from <c>default</c>'s, never a copy of it. The calls between
/// members about the deployment (a ledger's material, the control plane's forwarding, discovery) go to <see cref="ServerName"/>
/// with this identity too; those about one ledger (a forwarded write, catch-up) authenticate with that ledger's node
/// certificates. Membership is still managed through <c>default</c> (join tokens, joins, retirements are answered
/// there), and the <c>/node/network</c> discovery reads reports <c>default</c>'s progress.
/// </remarks>
public sealed class DeploymentIdentity : IDisposable
{
    /// <summary>
    /// The TLS server name, and Host, of the calls between members that are about the deployment rather than one ledger
    /// (a ledger's material, the control plane's forwarding, discovery): a member answers it with its certificate of the deployment
    /// identity and serves only those calls there. Under <c>.invalid</c> (RFC 2606), so no ledger's or deployment's name
    /// can be it; members reach each other by address, so it is never looked up.
    /// </summary>
    public const string ServerName = "vellum-deployment.invalid";

    private readonly DataDirectory _data;
    private readonly byte[] _secret;
    private NodeIdentity _node; // the current one: renewed in place while the node runs
    private HttpClient? _peerClient;
    private Forwarding.WriteForwarder? _forwarder;

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
        try
        {
            var renewed = LedgerService.RenewNodeCertificateIfDue(_data.DeploymentNodeCertificate, Service, current, logger, disposeOld: false);
            if (!ReferenceEquals(renewed, current))
            {
                Tls.Replace(renewed);
                Volatile.Write(ref _node, renewed); // the old one is left to the collector: a handshake may still read it
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            LogMessages.NodeCertificateRenewalFailed(logger, ex);
        }
    }

    /// <summary>The Host (and TLS server name) a call about the deployment to the member at <paramref name="url"/> names.</summary>
    internal static string HostOn(Uri url) => $"{ServerName}:{url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The client for calls between members about the deployment (name <see cref="HostOn"/> as Host): presents this
    /// node's certificate of the deployment identity and takes a member only if the deployment identity endorsed its
    /// certificate. Made at the first call, kept until the node stops.
    /// </summary>
    internal HttpClient PeerClient() => Forwarding.PeerHttp.Ensure(ref _peerClient, Tls, Service.Certificate);

    /// <summary>
    /// The client that sends a request on to the primary as a call about the deployment (the control plane's changes,
    /// naming <see cref="ServerName"/>): made at the first, kept until the node stops.
    /// </summary>
    internal Forwarding.WriteForwarder Forwarder(TimeSpan timeout, ILogger logger)
    {
        if (Volatile.Read(ref _forwarder) is { } existing)
        {
            return existing;
        }

        var forwarder = new Forwarding.WriteForwarder(Tls, Service.Certificate, timeout, logger);
        if (Interlocked.CompareExchange(ref _forwarder, forwarder, null) is { } raced)
        {
            forwarder.Dispose();
            return raced;
        }

        return forwarder;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _peerClient?.Dispose();
        _forwarder?.Dispose();
        Node.Dispose();
        Service.Dispose();
        CryptographicOperations.ZeroMemory(_secret);
    }
}
