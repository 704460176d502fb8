using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Vellum.Core.Identity;

/// <summary>
/// SHA-256 fingerprints of user certificates, the key ACL uses for certificate-based users: 64 upper-case hex digits.
/// </summary>
public static class CertificateFingerprint
{
    /// <summary>Hex digits in a canonical fingerprint.</summary>
    public const int Length = 2 * SHA256.HashSizeInBytes;

    // "AB:CD:…": 32 pairs and 31 colons.
    private const int ColonSeparatedLength = Length + (SHA256.HashSizeInBytes - 1);

    /// <summary>SHA-256 of the certificate's DER encoding, upper-case hex.</summary>
    public static string Compute(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexString(SHA256.HashData(certificate.RawDataMemory.Span));
    }

    /// <summary>
    /// Accepts 64 hex digits, or 32 colon-separated pairs, in any case, and returns the canonical upper-case form.
    /// Anything else (wrong length, non-hex, a colon anywhere but between pairs, a mix of both forms) is rejected.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<char> text, [NotNullWhen(true)] out string? fingerprint)
    {
        fingerprint = null;
        Span<char> digits = stackalloc char[Length];
        if (text.Length == Length)
        {
            text.CopyTo(digits);
        }
        else if (text.Length == ColonSeparatedLength)
        {
            for (var pair = 0; pair < SHA256.HashSizeInBytes; pair++)
            {
                var at = pair * 3;
                if (pair > 0 && text[at - 1] != ':')
                {
                    return false;
                }

                digits[2 * pair] = text[at];
                digits[(2 * pair) + 1] = text[at + 1];
            }
        }
        else
        {
            return false;
        }

        foreach (var c in digits)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        fingerprint = new string(digits).ToUpperInvariant();
        return true;
    }

    /// <summary>Accepts a string; null is not a fingerprint.</summary>
    public static bool TryNormalize([NotNullWhen(true)] string? text, [NotNullWhen(true)] out string? fingerprint)
    {
        if (text is null)
        {
            fingerprint = null;
            return false;
        }

        return TryNormalize(text.AsSpan(), out fingerprint);
    }

    /// <summary>As <see cref="TryNormalize(ReadOnlySpan{char}, out string?)"/>, throwing <see cref="FormatException"/> on bad input.</summary>
    public static string Normalize(string text) =>
        TryNormalize(text, out var fingerprint)
            ? fingerprint
            : throw new FormatException("A certificate fingerprint is 64 hex digits, optionally as colon-separated pairs.");
}
