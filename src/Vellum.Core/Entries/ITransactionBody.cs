using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Entries;

/// <summary>
/// A transaction the sequencer can encode: it knows its kind, its claims digest and its body. The sequencer supplies
/// the id, the commit evidence digest and — in a Private ledger — the secret; the body decides what it encrypts.
/// </summary>
public interface ITransactionBody
{
    /// <summary>The entry kind written at byte 1 of the body.</summary>
    EntryKind Kind { get; }

    /// <summary>The ACL claims digest (zero when there are no application claims).</summary>
    Hash32 ClaimsDigest();

    /// <summary>Bytes of the encoded body in a Public (<paramref name="privateLedger"/> false) or Private ledger.</summary>
    int EncodedLength(bool privateLedger);

    /// <summary>Encodes into exactly <see cref="EncodedLength"/> bytes; <paramref name="ledgerSecret"/> is given in a Private ledger.</summary>
    void Encode(Span<byte> body, TxId id, in Hash32 commitEvidenceDigest, in Hash32 claimsDigest, LedgerSecret? ledgerSecret);
}
