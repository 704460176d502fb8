using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// The node certificate a node presents in TLS (as server and as client), replaceable while the node runs: a renewed
/// certificate is used for every handshake from then on, while connections already open keep theirs.
/// </summary>
/// <remarks>
/// The TLS form of a certificate (a PKCS#12 round trip and a server context, ~17 ms) is made on first use, not when the
/// node certificate is given: a node with a thousand ledgers then starts without making a thousand of them, and a
/// ledger nobody connects to by name never pays for one.
/// Certificates replaced are not disposed: an open connection, or a handshake that read the old one a moment ago, may
/// still use it. One is left behind per renewal (a year apart by default).
/// </remarks>
public sealed class NodeTlsCertificate
{
    private volatile Lazy<Current> _current;

    /// <summary>Starts with <paramref name="node"/>'s certificate.</summary>
    public NodeTlsCertificate(NodeIdentity node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _current = Make(node);
    }

    /// <summary>The certificate with its private key, loaded as SslStream wants it.</summary>
    public X509Certificate2 Certificate => _current.Value.Certificate;

    /// <summary>The same as a server certificate context, built offline once per certificate.</summary>
    public SslStreamCertificateContext Context => _current.Value.Context;

    /// <summary>Whether the TLS form of the current certificate has been made (it is made on first use).</summary>
    public bool IsMade => _current.IsValueCreated;

    /// <summary>
    /// Presents <paramref name="node"/>'s certificate from the next handshake on. The old certificate's TLS form is
    /// made first if it was not yet, so a handshake that picked it up a moment ago still has it after the caller
    /// disposes the old node identity.
    /// </summary>
    public void Replace(NodeIdentity node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var replacement = Make(node);
        _ = replacement.Value;
        _ = _current.Value;
        _current = replacement;
    }

    // The node identity outlives this object (its owner disposes it after the ledger stops), so the first use may
    // read it later; a failure is kept and thrown to every use, as a handshake cannot do better than fail.
    private static Lazy<Current> Make(NodeIdentity node) => new(() =>
    {
        var certificate = node.CreateTlsCertificate();
        return new Current(certificate, SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true));
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    private sealed record Current(X509Certificate2 Certificate, SslStreamCertificateContext Context);
}
