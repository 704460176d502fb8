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
    public TransactionReceipt GetReceipt(long seqno, bool includeClaims = true) => GetReceipt(seqno, ReadBody(seqno), includeClaims);

    /// <summary>The receipt of <paramref name="seqno"/> from its body, already read with <see cref="ReadBody"/>.</summary>
    public TransactionReceipt GetReceipt(long seqno, byte[] body, bool includeClaims = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seqno, 1);
        ArgumentNullException.ThrowIfNull(body);
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
        }

        if (CoveringSignature(seqno) is not { } signature)
        {
            return TransactionReceipt.Loading(header.Id);
        }

        Vellum.Core.Merkle.ProofStep[] path;
        lock (_treeLock)
        {
            // The applier appends to the tree under the tree lock; a proof reads full tiles and the right edge.
            path = _tree.GetInclusionPath(seqno - 1, signature.TreeSize);
        }

        var receipt = ReceiptBuilder.Build(Hash32.Compute(body), _secret.CommitEvidence(header.Id), header.ClaimsDigest, path, signature.Receipt);

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

    /// <summary>
    /// The first durable signature after <paramref name="seqno"/>, or null if there is none yet. Signatures are looked
    /// up once per range they cover and kept (the last 64): every receipt of the range shares the decoded signature and
    /// its parsed certificate.
    /// </summary>
    private CoveringSignatureInfo? CoveringSignature(long seqno)
    {
        lock (_signatureCache)
        {
            foreach (var cached in _signatureCache)
            {
                if (cached.FirstCovered <= seqno && seqno < cached.Seqno)
                {
                    return cached;
                }
            }
        }

        var signatureSeqno = _index.SignatureAtOrAfter(seqno + 1);
        if (signatureSeqno == 0 || signatureSeqno > CommittedSeqno)
        {
            return null;
        }

        var body = ReadBody(signatureSeqno);
        if (!EntryHeader.TryRead(body, out var header, out var error) || !SignatureEntry.TryDecode(body, header, out var signature, out error))
        {
            throw new LedgerCorruptException($"signature transaction {signatureSeqno} is malformed: {error}");
        }

        string certificatePem;
        using (var certificate = X509CertificateLoader.LoadCertificate(signature!.NodeCertificateDer))
        {
            certificatePem = certificate.ExportCertificatePem();
        }

        var info = new CoveringSignatureInfo(signature.FirstCoveredSeqno, signatureSeqno, signature.TreeSize, ReceiptSignature.Create(certificatePem, signature.Signature));
        lock (_signatureCache)
        {
            if (_signatureCache.Count == 64)
            {
                _signatureCache.RemoveAt(0);
            }

            _signatureCache.Add(info);
        }

        return info;
    }

    private sealed record CoveringSignatureInfo(long FirstCovered, long Seqno, long TreeSize, ReceiptSignature Receipt);

    private readonly List<CoveringSignatureInfo> _signatureCache = [];
}
