using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// The node certificate a node presents in TLS (as server and as client), replaceable while the node runs: a renewed
/// certificate is used for every handshake from then on, while connections already open keep theirs.
/// </summary>
/// <remarks>
/// Certificates replaced are not disposed: an open connection, or a handshake that read the old one a moment ago, may
/// still use it. One is left behind per renewal (a year apart by default).
/// </remarks>
public sealed class NodeTlsCertificate
{
    private volatile Current _current;

    /// <summary>Starts with <paramref name="node"/>'s certificate.</summary>
    public NodeTlsCertificate(NodeIdentity node)
    {
        _current = Make(node);
    }

    /// <summary>The certificate with its private key, loaded as SslStream wants it.</summary>
    public X509Certificate2 Certificate => _current.Certificate;

    /// <summary>The same as a server certificate context, built offline once per certificate.</summary>
    public SslStreamCertificateContext Context => _current.Context;

    /// <summary>Presents <paramref name="node"/>'s certificate from the next handshake on.</summary>
    public void Replace(NodeIdentity node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _current = Make(node);
    }

    private static Current Make(NodeIdentity node)
    {
        var certificate = node.CreateTlsCertificate();
        return new Current(certificate, SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true));
    }

    private sealed record Current(X509Certificate2 Certificate, SslStreamCertificateContext Context);
}
