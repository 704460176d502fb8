using System.Formats.Asn1;

namespace Vellum.Core.Identity;

/// <summary>The parts of a DER <c>Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }</c>.</summary>
internal readonly record struct CertificateParts(
    ReadOnlyMemory<byte> TbsCertificate,
    string SignatureAlgorithmOid,
    ReadOnlyMemory<byte> Signature);

/// <summary>
/// Just enough X.509 parsing for receipts: the signed bytes, the signature and the raw SubjectPublicKeyInfo.
/// We read the DER ourselves because the ACL checks are defined over these exact bytes, not over what a
/// platform certificate object re-encodes.
/// </summary>
internal static class CertificateDer
{
    public const string EcdsaWithSha256 = "1.2.840.10045.4.3.2";
    public const string EcdsaWithSha384 = "1.2.840.10045.4.3.3";
    public const string EcdsaWithSha512 = "1.2.840.10045.4.3.4";

    private static readonly Asn1Tag VersionTag = new(TagClass.ContextSpecific, 0, isConstructed: true);

    /// <summary>Splits a certificate into TBS, signature algorithm and signature; false on anything malformed.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> der, out CertificateParts parts)
    {
        parts = default;
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER);
            var certificate = outer.ReadSequence();
            outer.ThrowIfNotEmpty();

            var tbs = certificate.ReadEncodedValue();
            var algorithm = certificate.ReadSequence();
            var oid = algorithm.ReadObjectIdentifier();
            if (!certificate.TryReadPrimitiveBitString(out var unusedBits, out var signature) || unusedBits != 0)
            {
                return false;
            }

            certificate.ThrowIfNotEmpty();
            parts = new CertificateParts(tbs, oid, signature);
            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    /// <summary>
    /// The DER SubjectPublicKeyInfo exactly as it appears in the certificate (the input of a CCF/ACL node id).
    /// </summary>
    public static bool TryGetSubjectPublicKeyInfo(ReadOnlyMemory<byte> certificateDer, out ReadOnlyMemory<byte> subjectPublicKeyInfo)
    {
        subjectPublicKeyInfo = default;
        if (!TryParse(certificateDer, out var parts))
        {
            return false;
        }

        try
        {
            var tbs = new AsnReader(parts.TbsCertificate, AsnEncodingRules.DER).ReadSequence();
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(VersionTag))
            {
                _ = tbs.ReadEncodedValue();
            }

            _ = tbs.ReadEncodedValue(); // serialNumber
            _ = tbs.ReadEncodedValue(); // signature AlgorithmIdentifier
            _ = tbs.ReadEncodedValue(); // issuer
            _ = tbs.ReadEncodedValue(); // validity
            _ = tbs.ReadEncodedValue(); // subject
            var spki = tbs.ReadEncodedValue();
            if (!new AsnReader(spki, AsnEncodingRules.DER).PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                return false;
            }

            subjectPublicKeyInfo = spki;
            return true;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    /// <summary>The digest an ECDSA signature algorithm OID names, or false for anything that is not ECDSA with SHA-2.</summary>
    public static bool TryGetEcdsaHash(string oid, out System.Security.Cryptography.HashAlgorithmName hash)
    {
        hash = oid switch
        {
            EcdsaWithSha256 => System.Security.Cryptography.HashAlgorithmName.SHA256,
            EcdsaWithSha384 => System.Security.Cryptography.HashAlgorithmName.SHA384,
            EcdsaWithSha512 => System.Security.Cryptography.HashAlgorithmName.SHA512,
            _ => default,
        };
        return hash.Name is not null;
    }
}
