using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Identity;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>
/// Checks a whole ledger, chunk by chunk in seqno order, with no server: every frame checksum, every entry's
/// structure, contiguous seqnos and non-decreasing views, every leaf re-derived into a Merkle frontier, every signature
/// transaction's root against that frontier, its ECDSA signature, its node id, and its node certificate's endorsement
/// by the service certificate. With the ledger secret it also checks each commit evidence digest and decrypts and checks
/// every Private entry. Memory is O(log n) plus one chunk.
/// </summary>
/// <remarks>The caller feeds chunk files in order (<see cref="VerifyChunk"/>) then calls <see cref="Finish"/>.</remarks>
public sealed class LedgerVerifier
{
    private readonly X509Certificate2 _serviceCertificate;
    private readonly LedgerSecret? _secret;
    private readonly MerkleFrontier _frontier = new();
    private readonly Dictionary<Hash32, bool> _endorsedCertificates = [];
    private long _nextSeqno = 1;
    private long _lastView;
    private long _lastSignatureSeqno;
    private TxId _lastSignatureId;
    private Hash32 _lastSignedRoot;
    private long _signatures;
    private long _chunks;
    private bool _sawOpenChunk;
    private bool? _isPrivate;

    /// <summary>A verifier trusting <paramref name="serviceCertificate"/>; with <paramref name="secret"/> it also decrypts.</summary>
    public LedgerVerifier(X509Certificate2 serviceCertificate, LedgerSecret? secret = null)
    {
        _serviceCertificate = serviceCertificate;
        _secret = secret;
    }

    /// <summary>Transactions checked so far.</summary>
    public long Transactions => _nextSeqno - 1;

    /// <summary>
    /// Checks one chunk file, given whole. <paramref name="fileName"/> is its name (the seqno range comes from it).
    /// Returns the first failure, or null.
    /// </summary>
    public VerificationFailure? VerifyChunk(string fileName, ReadOnlySpan<byte> file)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        if (!ChunkFormat.TryParseName(fileName, out var nameFirst, out var nameLast, out var committed))
        {
            return new VerificationFailure(fileName, -1, 0, "not a ledger chunk file name");
        }

        if (_sawOpenChunk)
        {
            return new VerificationFailure(fileName, -1, 0, "a chunk follows the open (uncommitted) chunk");
        }

        if (nameFirst != _nextSeqno)
        {
            return new VerificationFailure(fileName, -1, _nextSeqno,
                nameFirst > _nextSeqno ? $"chunk starts at seqno {nameFirst}: transactions {_nextSeqno}..{nameFirst - 1} are missing" : $"chunk starts at seqno {nameFirst}, which an earlier chunk already holds");
        }

        _chunks++;
        if (!ChunkFormat.TryReadHeader(file, out var headerFirst, out var isPrivate, out var error))
        {
            return new VerificationFailure(fileName, 0, 0, error);
        }

        if (headerFirst != nameFirst)
        {
            return new VerificationFailure(fileName, 16, 0, $"header says the chunk starts at seqno {headerFirst}, the file name says {nameFirst}");
        }

        if (_isPrivate is { } ledgerPrivate && ledgerPrivate != isPrivate)
        {
            return new VerificationFailure(fileName, 10, 0, "chunk ledger type differs from the earlier chunks'");
        }

        _isPrivate = isPrivate;
        long framesEnd = file.Length;
        long count = 0;
        if (committed)
        {
            if (!ChunkFormat.TryReadTrailer(file, out count, out framesEnd, out error))
            {
                return new VerificationFailure(fileName, Math.Max(0, file.Length - ChunkFormat.TrailerSize), 0, error);
            }

            if (count != nameLast - nameFirst + 1)
            {
                return new VerificationFailure(fileName, file.Length - ChunkFormat.TrailerSize, 0, $"trailer counts {count} entries; the file name says {nameLast - nameFirst + 1}");
            }
        }
        else
        {
            _sawOpenChunk = true;
        }

        long offset = ChunkFormat.HeaderSize;
        long index = 0;
        EntryKind lastKind = default;
        while (offset < framesEnd)
        {
            var seqno = _nextSeqno;
            if (committed && index >= count)
            {
                return new VerificationFailure(fileName, offset, seqno, "more entries than the trailer counts");
            }

            if (committed && ChunkFormat.ReadPosition(file, framesEnd, index) != offset)
            {
                return new VerificationFailure(fileName, framesEnd + (8 * index), seqno, "positions table does not match the entries");
            }

            var frame = file[(int)offset..(int)framesEnd];
            var status = Frame.TryRead(frame, out var bodyLength);
            if (status != FrameStatus.Ok)
            {
                // Strict even for the open chunk: a torn tail is normal after a crash, but only the node's recovery
                // may decide to drop it; an auditor sees it as what it is.
                return new VerificationFailure(fileName, offset, seqno, committed || status != FrameStatus.Truncated
                    ? DescribeFrame(status)
                    : "open chunk ends in a torn entry (a crash the node has not recovered from yet, or truncation)");
            }

            var body = frame.Slice(Frame.HeaderSize, bodyLength);
            var failure = VerifyEntry(fileName, offset, body, isPrivate, out lastKind);
            if (failure is not null)
            {
                return failure;
            }

            offset += Frame.HeaderSize + bodyLength;
            index++;
        }

        if (committed)
        {
            if (index != count)
            {
                return new VerificationFailure(fileName, offset, _nextSeqno, $"chunk holds {index} entries; its trailer counts {count}");
            }

            if (lastKind != EntryKind.Signature)
            {
                return new VerificationFailure(fileName, offset, _nextSeqno - 1, "a committed chunk must end with a signature transaction");
            }
        }

        return null;
    }

    /// <summary>Ends verification; the summary, or a failure for a ledger with no transaction.</summary>
    public (VerificationSummary? Summary, VerificationFailure? Failure) Finish()
    {
        if (Transactions == 0)
        {
            return (null, new VerificationFailure(null, -1, 0, "no ledger transaction found"));
        }

        return (new VerificationSummary(Transactions, _signatures, _chunks, _lastSignatureSeqno, _lastSignatureId, _lastSignedRoot,
            Transactions - _lastSignatureSeqno, _secret is not null), null);
    }

    private VerificationFailure? VerifyEntry(string fileName, long offset, ReadOnlySpan<byte> body, bool isPrivate, out EntryKind kind)
    {
        var seqno = _nextSeqno;
        kind = default;
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            return new VerificationFailure(fileName, offset, seqno, error);
        }

        kind = header.Kind;
        if (header.Id.Seqno != seqno)
        {
            return new VerificationFailure(fileName, offset, seqno, $"entry holds seqno {header.Id.Seqno}, expected {seqno}");
        }

        if (header.Id.View < _lastView)
        {
            return new VerificationFailure(fileName, offset, seqno, $"view {header.Id.View} is lower than the previous transaction's view {_lastView}");
        }

        if (_secret is not null && _secret.CommitEvidenceDigest(header.Id) != header.CommitEvidenceDigest)
        {
            return new VerificationFailure(fileName, offset, seqno, "commit evidence digest does not match the ledger secret");
        }

        switch (header.Kind)
        {
            case EntryKind.UserEntry:
                if (header.IsEncrypted != isPrivate)
                {
                    return new VerificationFailure(fileName, offset, seqno, isPrivate ? "entry of a Private ledger is not encrypted" : "entry of a Public ledger is encrypted");
                }

                if (!CheckUserEntry(body, header, out error))
                {
                    return new VerificationFailure(fileName, offset, seqno, error!);
                }

                break;

            case EntryKind.Signature:
                if (!SignatureEntry.TryDecode(body, header, out var signature, out error))
                {
                    return new VerificationFailure(fileName, offset, seqno, error!);
                }

                var failure = CheckSignature(signature!, header.Id);
                if (failure is not null)
                {
                    return new VerificationFailure(fileName, offset, seqno, failure);
                }

                break;

            default:
                // Reserved kinds carry opaque sections today; their leaves are still checked by the next signature.
                break;
        }

        _frontier.Append(EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest));
        _lastView = header.Id.View;
        _nextSeqno++;
        return null;
    }

    private string? CheckSignature(SignatureEntry signature, TxId id)
    {
        if (signature.FirstCoveredSeqno != _lastSignatureSeqno + 1)
        {
            return $"signature says it covers from seqno {signature.FirstCoveredSeqno}; the previous signature was at {_lastSignatureSeqno}";
        }

        var root = _frontier.Root();
        if (signature.Root != root)
        {
            return $"signed root {signature.Root} is not the Merkle root {root} of transactions 1..{id.Seqno - 1}: a transaction after seqno {_lastSignatureSeqno} was altered";
        }

        if (!signature.VerifySignature(out var error))
        {
            return error;
        }

        var certificateHash = Hash32.Compute(signature.NodeCertificateDer);
        if (!_endorsedCertificates.TryGetValue(certificateHash, out var endorsed))
        {
            try
            {
                using var node = X509CertificateLoader.LoadCertificate(signature.NodeCertificateDer);
                endorsed = CertificateEndorsement.IsEndorsedBy(node, _serviceCertificate);
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                endorsed = false;
            }

            _endorsedCertificates[certificateHash] = endorsed;
        }

        if (!endorsed)
        {
            return "node certificate is not endorsed by the service certificate";
        }

        _signatures++;
        _lastSignatureSeqno = id.Seqno;
        _lastSignatureId = id;
        _lastSignedRoot = root;
        return null;
    }

    /// <summary>Structure of a user entry, its claims digest, and — for a Private ledger with the secret — its GCM tag.</summary>
    private bool CheckUserEntry(ReadOnlySpan<byte> body, in EntryHeader header, out string? error)
    {
        var publicSection = new SpanReader(body.Slice(EntryHeader.Size, header.PublicLength));
        if (!publicSection.TryReadUInt16(out var collectionLength) || !publicSection.TryReadBytes(collectionLength, out var collectionId) ||
            !System.Text.Unicode.Utf8.IsValid(collectionId))
        {
            error = "collection id is truncated or not UTF-8";
            return false;
        }

        if (!publicSection.TryReadUInt16(out var tagCount))
        {
            error = "tag count is truncated";
            return false;
        }

        for (var i = 0; i < tagCount; i++)
        {
            if (!publicSection.TryReadUInt16(out var tagLength) || !publicSection.TryReadBytes(tagLength, out var tag) || !System.Text.Unicode.Utf8.IsValid(tag))
            {
                error = $"tag {i} is truncated or not UTF-8";
                return false;
            }
        }

        if (publicSection.Remaining != 0)
        {
            error = "unexpected bytes after the tags";
            return false;
        }

        var privateSection = body[header.PrivateOffset..];
        if (header.IsEncrypted)
        {
            if (_secret is null)
            {
                // Without the secret the ciphertext is opaque; its digest is still in the leaf the signatures cover.
                error = null;
                return true;
            }

            var cipherLength = privateSection.Length - LedgerSecret.TagSize;
            var plaintext = ArrayPool<byte>.Shared.Rent(cipherLength);
            try
            {
                if (!_secret.TryDecrypt(header.Id, privateSection[..cipherLength], privateSection[cipherLength..], plaintext.AsSpan(0, cipherLength), body[..header.PrivateOffset]))
                {
                    error = "contents fail AES-GCM authentication under the ledger secret";
                    return false;
                }

                return CheckPrivatePlaintext(plaintext.AsSpan(0, cipherLength), collectionId, header.ClaimsDigest, out error);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(plaintext);
            }
        }

        return CheckPrivatePlaintext(privateSection, collectionId, header.ClaimsDigest, out error);
    }

    private static bool CheckPrivatePlaintext(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> collectionId, in Hash32 claimsDigest, out string? error)
    {
        var reader = new SpanReader(plaintext);
        if (!reader.TryReadInt32(out var contentsLength) || !reader.TryReadBytes(contentsLength, out var contents))
        {
            error = "contents are truncated";
            return false;
        }

        if (!reader.TryReadByte(out var claimCount))
        {
            error = "claim count is missing";
            return false;
        }

        List<EntryClaim>? claims = claimCount == 0 ? null : new List<EntryClaim>(claimCount);
        for (var i = 0; i < claimCount; i++)
        {
            if (!reader.TryReadByte(out var claimKind))
            {
                error = $"claim {i} is truncated";
                return false;
            }

            if (claimKind == (byte)EntryClaimKind.LedgerEntryV1 && reader.TryReadBytes(32, out var key))
            {
                claims!.Add(new EntryClaim(EntryClaimKind.LedgerEntryV1, key.ToArray(), null, default));
            }
            else if (claimKind == (byte)EntryClaimKind.ClaimDigest && reader.TryReadString16(out var protocol) && reader.TryReadBytes(32, out var value))
            {
                claims!.Add(new EntryClaim(EntryClaimKind.ClaimDigest, null, protocol, new Hash32(value)));
            }
            else
            {
                error = $"claim {i} has an unknown kind or is truncated";
                return false;
            }
        }

        if (reader.Remaining != 0)
        {
            error = "unexpected bytes after the claims";
            return false;
        }

        if (EntryClaim.ComputeDigest(collectionId, contents, claims) != claimsDigest)
        {
            error = "claims digest does not match the entry's application claims";
            return false;
        }

        error = null;
        return true;
    }

    private static string DescribeFrame(FrameStatus status) => status switch
    {
        FrameStatus.Truncated => "entry is truncated",
        FrameStatus.BadLength => "entry length is out of range",
        _ => "entry checksum does not match (the bytes were altered or damaged)",
    };
}
