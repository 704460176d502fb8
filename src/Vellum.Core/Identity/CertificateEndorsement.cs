using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// The ACL receipt verifier's notion of "endorsed": the endorser's EC key verifies the subject certificate's
/// signature over its raw TBS bytes, with the hash named by the subject's own signature algorithm.
/// </summary>
/// <remarks>
/// Deliberately nothing else is checked (no validity dates, names, key usage or basicConstraints), because the ACL
/// and CCF verifiers check nothing else; a stricter check would reject receipts they accept. Every method returns
/// <see langword="false"/> rather than throwing on malformed input.
/// </remarks>
public static class CertificateEndorsement
{
    /// <summary>True when <paramref name="endorser"/>'s EC public key signed <paramref name="subject"/>.</summary>
    public static bool IsEndorsedBy(X509Certificate2? subject, X509Certificate2? endorser)
    {
        if (subject is null || endorser is null)
        {
            return false;
        }

        ECDsa? key;
        try
        {
            key = endorser.GetECDsaPublicKey();
        }
        catch (CryptographicException)
        {
            return false;
        }

        if (key is null)
        {
            return false;
        }

        using (key)
        {
            return IsEndorsedBy(subject.RawDataMemory, key);
        }
    }

    /// <summary>True when <paramref name="endorserPublicKey"/> verifies the signature of the DER certificate <paramref name="subjectDer"/>.</summary>
    public static bool IsEndorsedBy(ReadOnlyMemory<byte> subjectDer, ECDsa? endorserPublicKey)
    {
        if (endorserPublicKey is null
            || !CertificateDer.TryParse(subjectDer, out var parts)
            || !CertificateDer.TryGetEcdsaHash(parts.SignatureAlgorithmOid, out var hash))
        {
            return false;
        }

        try
        {
            return endorserPublicKey.VerifyData(
                parts.TbsCertificate.Span, parts.Signature.Span, hash, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
