using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>
/// The rules a signature transaction must meet, in one place for every reader of a ledger (<see cref="LedgerVerifier"/>
/// offline, <see cref="ChainValidator"/> for a store applying committed batches): it covers the transactions right
/// after the previous signature, signs the Merkle root of everything before it, its ECDSA signature verifies with the
/// node certificate it carries (whose key hashes to its node id), and that certificate is endorsed by the ledger's
/// service certificate. Validity periods are not checked: an old ledger stays valid after its node certificates expire.
/// </summary>
/// <remarks>
/// Each node certificate's public key, node id and endorsement are worked out once per checker, which belongs to one
/// ledger, and kept by the certificate's hash: a node certificate endorsed by one ledger's service identity means
/// nothing to another's. (A ledger is signed by few certificates: one per node and renewal.) Not thread-safe: one reader of a chain at a time.
/// </remarks>
public sealed class SignatureChecker
{
    private readonly X509Certificate2 _serviceCertificate;
    private readonly SignaturesIssued? _issued;
    private readonly Dictionary<Hash32, Signer> _signers = [];

    // Every signature of a run is usually by one node: comparing the DER is cheaper than hashing it for the dictionary.
    private byte[]? _lastCertificateDer;
    private Signer? _lastSigner;

    /// <param name="serviceCertificate">The ledger's service certificate, which must endorse every signing node.</param>
    /// <param name="issued">
    /// Signatures this process made (see <see cref="SignaturesIssued"/>): their ECDSA verification is skipped, nothing else.
    /// </param>
    public SignatureChecker(X509Certificate2 serviceCertificate, SignaturesIssued? issued = null)
    {
        ArgumentNullException.ThrowIfNull(serviceCertificate);
        _serviceCertificate = serviceCertificate;
        _issued = issued;
    }

    /// <summary>Signatures whose ECDSA verification was skipped as this process's own.</summary>
    public long SkippedAsOwn { get; private set; }

    /// <summary>The service certificate signing nodes must be endorsed by.</summary>
    public X509Certificate2 ServiceCertificate => _serviceCertificate;

    /// <summary>
    /// Checks <paramref name="signature"/> (transaction <paramref name="id"/>) against the root of every transaction before
    /// it and the seqno of the previous signature (0 if none); null when it holds, else why not.
    /// </summary>
    public string? Check(SignatureEntry signature, TxId id, in Hash32 rootBefore, long previousSignatureSeqno)
    {
        ArgumentNullException.ThrowIfNull(signature);
        if (signature.FirstCoveredSeqno != previousSignatureSeqno + 1)
        {
            return $"signature says it covers from seqno {signature.FirstCoveredSeqno}; the previous signature was at {previousSignatureSeqno}";
        }

        if (signature.Root != rootBefore)
        {
            return $"signed root {signature.Root} is not the Merkle root {rootBefore} of transactions 1..{id.Seqno - 1}: a transaction after seqno {previousSignatureSeqno} was altered";
        }

        if (signature.TreeSize != id.Seqno - 1)
        {
            return $"signature says it signs a tree of {signature.TreeSize} transactions; {id.Seqno - 1} come before it";
        }

        // The certificate is parsed, its node id computed and its endorsement checked once per certificate.
        var signer = SignerOf(signature.NodeCertificateDer);
        if (signer.Key is null)
        {
            return signer.Error;
        }

        if (signer.NodeId != signature.NodeId)
        {
            return "node id is not the SHA-256 of the node certificate's public key";
        }

        if (_issued is not null && _issued.TryTake(signature.Root, signature.NodeId, signature.Signature))
        {
            SkippedAsOwn++;
        }
        else if (!signature.VerifySignature(signer.Key, out var error))
        {
            return error;
        }

        return signer.Endorsed ? null : "node certificate is not endorsed by the service certificate";
    }

    private Signer SignerOf(byte[] certificateDer)
    {
        if (_lastSigner is not null && certificateDer.AsSpan().SequenceEqual(_lastCertificateDer))
        {
            return _lastSigner;
        }

        var certificateHash = Hash32.Compute(certificateDer);
        if (!_signers.TryGetValue(certificateHash, out var signer))
        {
            try
            {
                using var node = X509CertificateLoader.LoadCertificate(certificateDer);
                var key = node.GetECDsaPublicKey();
                signer = key is null
                    ? new Signer(null, default, false, "node certificate does not hold an EC public key")
                    : new Signer(key, SignatureEntry.NodeIdOf(key.ExportSubjectPublicKeyInfo()), CertificateEndorsement.IsEndorsedBy(node, _serviceCertificate), null);
            }
            catch (System.Security.Cryptography.CryptographicException ex)
            {
                signer = new Signer(null, default, false, $"node certificate is unreadable: {ex.Message}");
            }

            _signers[certificateHash] = signer;
        }

        _lastCertificateDer = certificateDer;
        _lastSigner = signer;
        return signer;
    }

    /// <summary>What one node certificate gives: its public key (null if unusable, with why), node id and endorsement.</summary>
    private sealed record Signer(System.Security.Cryptography.ECDsa? Key, Hash32 NodeId, bool Endorsed, string? Error);
}
