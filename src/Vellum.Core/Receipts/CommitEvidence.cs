using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Vellum.Core.Primitives;

namespace Vellum.Core.Receipts;

/// <summary>
/// The commit evidence string <c>ce:{view}.{seqno}:{64 lower-case hex}</c>: a per-transaction secret nonce that is
/// revealed only once the transaction commits, so nobody can build a receipt for an uncommitted transaction.
/// </summary>
public static class CommitEvidence
{
    /// <summary>The literal prefix.</summary>
    public const string Prefix = "ce:";

    /// <summary>Bytes in the nonce.</summary>
    public const int NonceSize = 32;

    /// <summary>Formats the commit evidence of <paramref name="txId"/> with a 32-byte nonce.</summary>
    public static string Format(TxId txId, ReadOnlySpan<byte> nonce)
    {
        if (!txId.IsValid)
        {
            throw new ArgumentException("The transaction id must have a positive view and seqno.", nameof(txId));
        }

        if (nonce.Length != NonceSize)
        {
            throw new ArgumentException($"The commit evidence nonce is {NonceSize} bytes, not {nonce.Length}.", nameof(nonce));
        }

        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{txId}:{Convert.ToHexStringLower(nonce)}");
    }

    /// <summary>
    /// Parses the strict form: the prefix, a canonical <see cref="TxId"/>, a colon and exactly 64 lower-case hex digits.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out TxId txId, [NotNullWhen(true)] out byte[]? nonce)
    {
        txId = default;
        nonce = null;
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = text.AsSpan(Prefix.Length);
        var colon = body.IndexOf(':');
        if (colon < 0 || !TxId.TryParse(body[..colon], out var id))
        {
            return false;
        }

        var hex = body[(colon + 1)..];
        if (hex.Length != 2 * NonceSize)
        {
            return false;
        }

        foreach (var c in hex)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        txId = id;
        nonce = Convert.FromHexString(hex);
        return true;
    }

    /// <summary>SHA-256 of the UTF-8 commit evidence string: the middle component of a receipt leaf.</summary>
    public static Hash32 Digest(string commitEvidence)
    {
        ArgumentNullException.ThrowIfNull(commitEvidence);
        return Hash32.Compute(Encoding.UTF8.GetBytes(commitEvidence));
    }
}
