using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>
/// Checks a whole ledger, chunk by chunk in seqno order, with no server: every frame checksum, every entry's
/// structure, contiguous seqnos and non-decreasing views, every leaf re-derived into a Merkle frontier, every signature
/// transaction's root against that frontier, its ECDSA signature, its node id, and its node certificate's endorsement
/// by the service certificate — the chain rules by the <see cref="ChainValidator"/> that a node applying batches uses
/// too. With the ledger secret it also checks each commit evidence digest and decrypts and checks every Private entry.
/// Memory is O(log n) plus one chunk.
/// </summary>
/// <remarks>
/// <para>The caller feeds chunk files in order (<see cref="VerifyChunk(string, ReadOnlyMemory{byte})"/>) then calls
/// <see cref="Finish"/>.</para>
/// <para>
/// A chunk is checked in two passes. The first checks what each entry says about itself — structure, seqno, commit
/// evidence, claims digest — and hashes its leaf; it needs no other entry, so a chunk given as memory is split into
/// blocks of <see cref="BlockLeaves"/> leaves checked on every core, and the root of each whole, signature-free block
/// is folded there too. The second pass walks the entries in order on one thread: views, signatures against the
/// frontier, decryption (one AES-GCM context), and the frontier fold (one append per block). Failures are reported as a
/// single in-order pass would report them: the first failing entry, and for it the first check in the order of
/// <c>VerifyEntry</c> that fails.
/// </para>
/// </remarks>
public sealed class LedgerVerifier
{
    // Blocks are aligned on the global leaf index, so a whole block is one perfect subtree of the Merkle tree and the
    // frontier takes its root in one append. 256 leaves is ~0.5 ms of work: coarse enough that scheduling is noise,
    // fine enough that a 4 MiB chunk (~11,000 entries) spreads over both cores of a small machine.
    private const int BlockLeaves = 256;

    private readonly LedgerSecret? _secret;
    private readonly ChainValidator _chain;

    // Per-chunk scratch, kept from chunk to chunk so a run allocates it once.
    private FrameCheck[] _frames = [];
    private BlockCheck[] _blocks = [];


    private long _chunks;
    private bool _sawOpenChunk;
    private bool? _isPrivate;

    /// <summary>A verifier trusting <paramref name="serviceCertificate"/>; with <paramref name="secret"/> it also decrypts.</summary>
    public LedgerVerifier(X509Certificate2 serviceCertificate, LedgerSecret? secret = null)
    {
        _chain = new ChainValidator(serviceCertificate, new MerkleFrontier(), lastView: 0, lastSignatureSeqno: 0);
        _secret = secret;
    }

    /// <summary>Transactions checked so far.</summary>
    public long Transactions => _chain.LastSeqno;

    /// <summary>The seqno the next transaction must carry.</summary>
    private long NextSeqno => _chain.LastSeqno + 1;

    /// <summary>
    /// Checks one chunk file, given whole, on the calling thread. <paramref name="fileName"/> is its name (the seqno
    /// range comes from it). Returns the first failure, or null.
    /// </summary>
    public VerificationFailure? VerifyChunk(string fileName, ReadOnlySpan<byte> file) => VerifyChunk(fileName, file, null);

    /// <summary>
    /// Checks one chunk file, given whole, spreading the per-entry work over the thread pool. The same checks and the
    /// same first failure as the span overload. <paramref name="file"/> must not change until this returns.
    /// </summary>
    public VerificationFailure? VerifyChunk(string fileName, ReadOnlyMemory<byte> file) => VerifyChunk(fileName, file.Span, file);

    private VerificationFailure? VerifyChunk(string fileName, ReadOnlySpan<byte> file, ReadOnlyMemory<byte>? shared)
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

        if (nameFirst != NextSeqno)
        {
            return new VerificationFailure(fileName, -1, NextSeqno,
                nameFirst > NextSeqno ? $"chunk starts at seqno {nameFirst}: transactions {NextSeqno}..{nameFirst - 1} are missing" : $"chunk starts at seqno {nameFirst}, which an earlier chunk already holds");
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

        // Pass 1: find the frames (lengths and checksums), then check each entry on its own, block by block.
        var frameCount = ScanFrames(file, framesEnd);
        var chunk = new ChunkContext(NextSeqno, (int)((NextSeqno - 1) % BlockLeaves), frameCount, isPrivate);
        var blockCount = (frameCount + chunk.Shift + BlockLeaves - 1) / BlockLeaves;
        if (_blocks.Length < blockCount)
        {
            _blocks = new BlockCheck[Math.Max(blockCount, _blocks.Length * 2)];
        }

        if (shared is { } memory && blockCount > 1)
        {
            Parallel.For(0, blockCount, block => CheckBlock(memory.Span, chunk, block));
        }
        else
        {
            for (var block = 0; block < blockCount; block++)
            {
                CheckBlock(file, chunk, block);
            }
        }

        // Pass 2: in order, what depends on the entries before.
        long index = 0;
        EntryKind lastKind = default;
        for (var i = 0; i < frameCount; i++)
        {
            ref var frame = ref _frames[i];
            long offset = frame.Offset;
            var seqno = NextSeqno;
            if (committed && index >= count)
            {
                return new VerificationFailure(fileName, offset, seqno, "more entries than the trailer counts");
            }

            if (committed && ChunkFormat.ReadPosition(file, framesEnd, index) != offset)
            {
                return new VerificationFailure(fileName, framesEnd + (8 * index), seqno, "positions table does not match the entries");
            }

            if (frame.Status != FrameStatus.Ok)
            {
                // Strict even for the open chunk: a torn tail is normal after a crash, but only the node's recovery
                // may decide to drop it; an auditor sees it as what it is.
                return new VerificationFailure(fileName, offset, seqno, committed || frame.Status != FrameStatus.Truncated
                    ? DescribeFrame(frame.Status)
                    : "open chunk ends in a torn entry (a crash the node has not recovered from yet, or truncation)");
            }

            var body = file.Slice(frame.Offset + Frame.HeaderSize, frame.BodyLength);
            var slot = i + chunk.Shift;
            ref var block = ref _blocks[slot / BlockLeaves];
            var failure = CompleteEntry(fileName, body, ref frame, appendLeaf: !block.FoldsAsOne, out lastKind);
            if (failure is not null)
            {
                return failure;
            }

            if (block.FoldsAsOne && slot % BlockLeaves == BlockLeaves - 1)
            {
                // Every entry of the block has now passed; their leaves go in as the block's subtree root.
                _chain.AppendSubtree(block.Root, BlockLeaves);
            }

            index++;
        }

        if (committed)
        {
            if (index != count)
            {
                return new VerificationFailure(fileName, framesEnd, NextSeqno, $"chunk holds {index} entries; its trailer counts {count}");
            }

            if (lastKind != EntryKind.Signature)
            {
                return new VerificationFailure(fileName, framesEnd, NextSeqno - 1, "a committed chunk must end with a signature transaction");
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

        return (new VerificationSummary(Transactions, _chain.Signatures, _chunks, _chain.LastSignatureSeqno, _chain.LastSignatureId, _chain.LastSignedRoot,
            Transactions - _chain.LastSignatureSeqno, _secret is not null), null);
    }

    /// <summary>
    /// Walks the frames from the chunk header to <paramref name="framesEnd"/>, recording each frame's position, length
    /// and checksum status; stops after the first frame that is not whole and intact (nothing after it can be found).
    /// </summary>
    private int ScanFrames(ReadOnlySpan<byte> file, long framesEnd)
    {
        var count = 0;
        long offset = ChunkFormat.HeaderSize;
        while (offset < framesEnd)
        {
            if (count == _frames.Length)
            {
                Array.Resize(ref _frames, Math.Max(1024, _frames.Length * 2));
            }

            var status = Frame.TryRead(file[(int)offset..(int)framesEnd], out var bodyLength);
            _frames[count++] = new FrameCheck { Offset = (int)offset, BodyLength = bodyLength, Status = status };
            if (status != FrameStatus.Ok)
            {
                break;
            }

            offset += Frame.HeaderSize + bodyLength;
        }

        return count;
    }

    /// <summary>
    /// Pass 1 for the frames of one block: <see cref="CheckEntry"/> each, then the block's subtree root when the block
    /// is whole and can be folded as one (no signature after its first entry needs the root part-way through it).
    /// Touches only this block's frames and slot, so blocks run concurrently.
    /// </summary>
    private void CheckBlock(ReadOnlySpan<byte> file, in ChunkContext chunk, int block)
    {
        var first = Math.Max(0, (block * BlockLeaves) - chunk.Shift);
        var end = Math.Min(chunk.FrameCount, ((block + 1) * BlockLeaves) - chunk.Shift);
        var foldsAsOne = end - first == BlockLeaves;
        for (var i = first; i < end; i++)
        {
            ref var frame = ref _frames[i];
            if (frame.Status != FrameStatus.Ok)
            {
                foldsAsOne = false;
                continue;
            }

            CheckEntry(file.Slice(frame.Offset + Frame.HeaderSize, frame.BodyLength), chunk.FirstSeqno + i, chunk.IsPrivate, ref frame);
            if (frame.Error is not null || (i > first && frame.Header.Kind == EntryKind.Signature))
            {
                foldsAsOne = false;
            }
        }

        ref var slot = ref _blocks[block];
        slot.FoldsAsOne = foldsAsOne;
        slot.Root = foldsAsOne ? SubtreeRoot(_frames.AsSpan(first, BlockLeaves)) : default;
    }

    /// <summary>
    /// The checks of one entry that need no other entry, in the order a failure is reported, and its leaf. Never
    /// throws; leaves the first failure in <see cref="FrameCheck.Error"/>.
    /// </summary>
    private void CheckEntry(ReadOnlySpan<byte> body, long seqno, bool isPrivate, ref FrameCheck frame)
    {
        frame.Error = null;
        frame.DeferredUserCheck = false;
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            frame.Error = error;
            frame.ErrorBeforeView = true;
            return;
        }

        frame.Header = header;
        if (header.Id.Seqno != seqno)
        {
            frame.Error = $"entry holds seqno {header.Id.Seqno}, expected {seqno}";
            frame.ErrorBeforeView = true;
            return;
        }

        // The view check comes next in the reported order; it needs the previous entry and is done in pass 2.
        frame.ErrorBeforeView = false;
        if (_secret is not null && _secret.CommitEvidenceDigest(header.Id) != header.CommitEvidenceDigest)
        {
            frame.Error = "commit evidence digest does not match the ledger secret";
            return;
        }

        if (header.Kind == EntryKind.UserEntry)
        {
            if (header.IsEncrypted != isPrivate)
            {
                frame.Error = isPrivate ? "entry of a Private ledger is not encrypted" : "entry of a Public ledger is encrypted";
                return;
            }

            if (header.IsEncrypted && _secret is not null)
            {
                // Decryption goes through the secret's one AES-GCM context, which is not safe to share between
                // threads: pass 2 does it.
                frame.DeferredUserCheck = true;
            }
            else if (!CheckUserEntry(body, header, out error))
            {
                frame.Error = error!;
                return;
            }
        }
        else if (header.Kind == EntryKind.UserManagement &&
                 !(RoleDefinitionEntry.IsRoleDefinition(body, header)
                     ? RoleDefinitionEntry.TryDecode(body, header, out _, out error)
                     : UserChangeEntry.TryDecode(body, header, out _, out error)))
        {
            frame.Error = error!;
            return;
        }
        else if (header.Kind == EntryKind.Governance && !NodeRetirementEntry.TryDecode(body, header, out _, out error))
        {
            frame.Error = error!;
            return;
        }

        frame.Leaf = EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest);
    }

    /// <summary>
    /// Pass 2 for one entry, whose frame is intact: the first failure pass 1 found, in order with the checks that depend
    /// on earlier entries (the chain's, by <see cref="ChainValidator"/>), then the entry is taken into the chain (its leaf
    /// appended unless its block folds in as one, <paramref name="appendLeaf"/> false).
    /// </summary>
    private VerificationFailure? CompleteEntry(string fileName, ReadOnlySpan<byte> body, ref FrameCheck frame, bool appendLeaf, out EntryKind kind)
    {
        var seqno = NextSeqno;
        long offset = frame.Offset;
        kind = default;
        if (frame.Error is not null && frame.ErrorBeforeView)
        {
            return new VerificationFailure(fileName, offset, seqno, frame.Error);
        }

        var header = frame.Header;
        kind = header.Kind;
        if (_chain.CheckOrder(header) is { } disorder)
        {
            return new VerificationFailure(fileName, offset, seqno, disorder);
        }

        if (frame.Error is not null)
        {
            return new VerificationFailure(fileName, offset, seqno, frame.Error);
        }

        if (frame.DeferredUserCheck && !CheckUserEntry(body, header, out var error))
        {
            return new VerificationFailure(fileName, offset, seqno, error!);
        }

        // The key-rotation kind is reserved and carries opaque sections today; its leaves are still checked by the
        // next signature.
        return _chain.Advance(header, body, frame.Leaf, appendLeaf) is { } refused ? new VerificationFailure(fileName, offset, seqno, refused) : null;
    }

    /// <summary>The root of the perfect subtree over the leaves of a whole block, hashed pairwise upwards.</summary>
    private static Hash32 SubtreeRoot(ReadOnlySpan<FrameCheck> frames)
    {
        Span<Hash32> level = stackalloc Hash32[BlockLeaves / 2];
        for (var i = 0; i < level.Length; i++)
        {
            level[i] = Hash32.Combine(frames[2 * i].Leaf, frames[(2 * i) + 1].Leaf);
        }

        for (var width = level.Length; width > 1; width /= 2)
        {
            for (var i = 0; i < width / 2; i++)
            {
                level[i] = Hash32.Combine(level[2 * i], level[(2 * i) + 1]);
            }
        }

        return level[0];
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
        if (!UserEntry.TryReadPrivate(plaintext, out var contents, out var claims, out error))
        {
            return false;
        }

        if (EntryClaim.ComputeDigest(collectionId, contents, claims) != claimsDigest)
        {
            error = "claims digest does not match the entry's application claims";
            return false;
        }

        return true;
    }

    private static string DescribeFrame(FrameStatus status) => status switch
    {
        FrameStatus.Truncated => "entry is truncated",
        FrameStatus.BadLength => "entry length is out of range",
        _ => "entry checksum does not match (the bytes were altered or damaged)",
    };

    /// <summary>What pass 1 needs to know about the chunk, copied so the parallel body captures no span.</summary>
    private readonly record struct ChunkContext(long FirstSeqno, int Shift, int FrameCount, bool IsPrivate);

    /// <summary>One frame of the chunk being checked: where it is, and what pass 1 found.</summary>
    private struct FrameCheck
    {
        public int Offset;
        public int BodyLength;
        public FrameStatus Status;
        public EntryHeader Header;

        /// <summary>The first failure pass 1 found, or null.</summary>
        public string? Error;

        /// <summary>True when <see cref="Error"/> comes before the view check in the reported order.</summary>
        public bool ErrorBeforeView;

        /// <summary>The user-entry check (it decrypts) is left to pass 2.</summary>
        public bool DeferredUserCheck;

        public Hash32 Leaf;
    }

    /// <summary>A block of <see cref="BlockLeaves"/> leaves aligned on the global leaf index.</summary>
    private struct BlockCheck
    {
        /// <summary>Whole, every entry passed pass 1, and no signature after the first entry: fold <see cref="Root"/> once.</summary>
        public bool FoldsAsOne;

        public Hash32 Root;
    }
}
