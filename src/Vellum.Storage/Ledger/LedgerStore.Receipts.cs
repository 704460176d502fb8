using System.Security.Cryptography.X509Certificates;
using System.Text;
using Vellum.Core.Claims;
using Vellum.Core.Entries;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Storage.Ledger;

public sealed partial class LedgerStore
{
    /// <summary>
    /// The ACL receipt of transaction <paramref name="seqno"/>: its leaf components, the path to the root signed by
    /// the first signature transaction after it, that signature and the signing node's certificate. Commit evidence
    /// is revealed only here, so a transaction that is not committed yet answers <c>Loading</c> (as ACL does) rather
    /// than a receipt. With <paramref name="includeClaims"/>, a user entry's application claims are included so a
    /// client can recompute the claims digest.
    /// </summary>
    public TransactionReceipt GetReceipt(long seqno, bool includeClaims = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqno, 1);
        var body = ReadBody(seqno);
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
        }

        var signatureSeqno = _index.SignatureAtOrAfter(seqno + 1);
        if (signatureSeqno == 0 || signatureSeqno > CommittedSeqno)
        {
            return TransactionReceipt.Loading(header.Id);
        }

        var signatureBody = ReadBody(signatureSeqno);
        if (!EntryHeader.TryRead(signatureBody, out var signatureHeader, out error) ||
            !SignatureEntry.TryDecode(signatureBody, signatureHeader, out var signature, out error))
        {
            throw new LedgerCorruptException($"signature transaction {signatureSeqno} is malformed: {error}");
        }

        Vellum.Core.Merkle.ProofStep[] path;
        lock (_sequenceLock)
        {
            // The tree is written under the sequence lock; a proof reads full tiles and the right edge.
            path = _tree.GetInclusionPath(seqno - 1, signature!.TreeSize);
        }

        string certificatePem;
        using (var certificate = X509CertificateLoader.LoadCertificate(signature.NodeCertificateDer))
        {
            certificatePem = certificate.ExportCertificatePem();
        }

        var receipt = ReceiptBuilder.Build(
            Hash32.Compute(body), _secret.CommitEvidence(header.Id), header.ClaimsDigest, path, certificatePem, signature.Signature);

        IReadOnlyList<ApplicationClaim>? claims = null;
        if (includeClaims && header.Kind == EntryKind.UserEntry && !header.ClaimsDigest.IsZero &&
            UserEntry.TryDecode(body, header, _secret, out var entry, out _) && entry!.Claims.Count > 0)
        {
            var contents = Encoding.UTF8.GetString(entry.Contents.Span);
            var list = new ApplicationClaim[entry.Claims.Count];
            for (var i = 0; i < list.Length; i++)
            {
                list[i] = entry.Claims[i].ToApplicationClaim(entry.CollectionId, contents);
            }

            claims = list;
        }

        return TransactionReceipt.Ready(header.Id, receipt, claims);
    }
}
