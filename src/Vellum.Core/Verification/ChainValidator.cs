using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>One frame of a checked batch: its leaf, where it lies in the batch, and its header.</summary>
public readonly record struct CheckedFrame(Hash32 Leaf, int Offset, int Length, EntryHeader Header);

/// <summary>
/// The one place the chain rules of a ledger live: seqnos continue the ledger, views never go back, and every signature
/// signs the root of everything before it, from a node its service identity endorsed (<see cref="SignatureChecker"/>).
/// Two ways in, one set of rules (<see cref="Step"/>): a store that applies batches of frames (committed batches from
/// consensus, transactions fetched from a peer, recovery) checks a batch without changing anything
/// (<see cref="TryCheck"/>, which also reads each frame's checksum and header) and takes in only what it has written
/// (<see cref="Commit"/>), so a bad batch changes nothing; the offline verifier (<see cref="LedgerVerifier"/>, behind
/// <c>vellum verify</c>) walks a ledger's transactions in order (<see cref="Advance"/>), folding whole blocks of leaves
/// in at once (<see cref="AppendSubtree"/>).
/// </summary>
/// <remarks>
/// State: the Merkle frontier of the ledger so far (O(log n) hashes), the last seqno, view and signature. It resumes
/// from a ledger opened in the middle. Entry contents are not decrypted here (that is <see cref="LedgerVerifier"/>'s,
/// with the secret); their leaves are what the signatures bind. Not thread-safe: one caller at a time.
/// </remarks>
public sealed class ChainValidator
{
    private readonly SignatureChecker _signatures;
    private readonly MerkleFrontier _frontier;
    private Cursor _state;

    /// <param name="serviceCertificate">The ledger's service certificate.</param>
    /// <param name="frontier">The Merkle frontier over the ledger so far (its size is the last seqno); the validator keeps it.</param>
    /// <param name="lastView">The highest view in the ledger so far.</param>
    /// <param name="lastSignatureSeqno">The seqno of the ledger's last signature, 0 if none.</param>
    /// <param name="issued">Signatures this process made, whose ECDSA verification is skipped (see <see cref="SignaturesIssued"/>).</param>
    public ChainValidator(X509Certificate2 serviceCertificate, MerkleFrontier frontier, long lastView, long lastSignatureSeqno, SignaturesIssued? issued = null)
    {
        ArgumentNullException.ThrowIfNull(frontier);
        _signatures = new SignatureChecker(serviceCertificate, issued);
        _frontier = frontier;
        _state = new Cursor { LastSeqno = frontier.Size, LastView = lastView, LastSignatureSeqno = lastSignatureSeqno };
    }

    /// <summary>The last seqno taken into the state.</summary>
    public long LastSeqno => _state.LastSeqno;

    /// <summary>Signatures checked without their ECDSA verification, as this process's own.</summary>
    public long SignaturesSkippedAsOwn => _signatures.SkippedAsOwn;

    /// <summary>The highest view taken into the state.</summary>
    public long LastView => _state.LastView;

    /// <summary>The seqno of the last signature taken into the state.</summary>
    public long LastSignatureSeqno => _state.LastSignatureSeqno;

    /// <summary>The id of the last signature a walk (<see cref="Advance"/>) took in (default if none).</summary>
    public TxId LastSignatureId => _state.LastSignatureId;

    /// <summary>The root the last signature a walk (<see cref="Advance"/>) took in signed (zero if none).</summary>
    public Hash32 LastSignedRoot => _state.LastSignedRoot;

    /// <summary>Signatures a walk (<see cref="Advance"/>) took in.</summary>
    public long Signatures => _state.Signatures;

    /// <summary>A copy of the frontier over every transaction taken into the state.</summary>
    public MerkleFrontier CopyFrontier() => _frontier.Clone();

    /// <summary>
    /// Checks <paramref name="frames"/> against the state without changing it. Frames at or below
    /// <see cref="LastSeqno"/> are replays: each must be whole and carry the id <paramref name="appliedId"/> gives for its
    /// seqno. The new frames, in order, are added to <paramref name="checkedFrames"/> (cleared first).
    /// </summary>
    /// <returns>Null when the batch continues the ledger, else the first reason it does not.</returns>
    public string? TryCheck(ReadOnlySpan<byte> frames, Func<long, TxId> appliedId, List<CheckedFrame> checkedFrames)
    {
        ArgumentNullException.ThrowIfNull(appliedId);
        ArgumentNullException.ThrowIfNull(checkedFrames);
        checkedFrames.Clear();
        var offset = 0;
        var cursor = _state;
        MerkleFrontier? scratch = null;
        while (offset < frames.Length)
        {
            var data = frames[offset..];
            var status = Frame.TryRead(data, out var bodyLength);
            if (status != FrameStatus.Ok)
            {
                return $"frame at byte {offset}: {Describe(status)}";
            }

            var body = data.Slice(Frame.HeaderSize, bodyLength);
            if (!EntryHeader.TryRead(body, out var header, out var error))
            {
                return $"entry at byte {offset}: {error}";
            }

            var frameLength = Frame.HeaderSize + bodyLength;
            if (header.Id.Seqno <= cursor.LastSeqno)
            {
                if (checkedFrames.Count > 0)
                {
                    return $"transaction {header.Id} goes back after seqno {cursor.LastSeqno}";
                }

                // A replay (consensus passes committed batches again after a restart): it must be the same transaction.
                if (appliedId(header.Id.Seqno) != header.Id)
                {
                    return $"transaction {header.Id} differs from the applied one at seqno {header.Id.Seqno}";
                }

                offset += frameLength;
                continue;
            }

            // Roots are taken from a copy of the frontier, made at the first signature: a batch without one needs none.
            if (header.Kind == EntryKind.Signature && scratch is null)
            {
                scratch = _frontier.Clone();
                foreach (var earlier in checkedFrames)
                {
                    scratch.Append(earlier.Leaf);
                }
            }

            if (Step(ref cursor, header, body, scratch) is { } refused)
            {
                return refused;
            }

            var leaf = EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest);
            scratch?.Append(leaf);
            checkedFrames.Add(new CheckedFrame(leaf, offset, frameLength, header));
            offset += frameLength;
        }

        return null;
    }

    /// <summary>
    /// The seqno and view rules alone for the next transaction (a caller that reports failures in its own order checks
    /// them first); <see cref="Advance"/> checks them again.
    /// </summary>
    public string? CheckOrder(in EntryHeader header) => Order(_state, header);

    /// <summary>
    /// Takes the next transaction of a ledger walked in order: <see cref="Step"/>'s rules, then its leaf is appended to
    /// the frontier — unless <paramref name="appendLeaf"/> is false because the caller folds a whole block of leaves in
    /// at once afterwards (<see cref="AppendSubtree"/>); a signature must then come first in its block, so every leaf
    /// before it is in. Nothing changes when it fails.
    /// </summary>
    /// <returns>Null when the transaction continues the chain, else why not.</returns>
    public string? Advance(in EntryHeader header, ReadOnlySpan<byte> body, in Hash32 leaf, bool appendLeaf = true)
    {
        var cursor = _state;
        if (header.Kind == EntryKind.Signature && _frontier.Size != cursor.LastSeqno)
        {
            throw new InvalidOperationException($"signature {header.Id} comes before the leaves up to seqno {cursor.LastSeqno} were appended");
        }

        if (Step(ref cursor, header, body, _frontier) is { } refused)
        {
            return refused;
        }

        _state = cursor;
        if (appendLeaf)
        {
            _frontier.Append(leaf);
        }

        return null;
    }

    /// <summary>Appends the root of a perfect subtree of <paramref name="leaves"/> leaves that <see cref="Advance"/> took in without appending.</summary>
    public void AppendSubtree(in Hash32 root, int leaves)
    {
        if (_frontier.Size + leaves > _state.LastSeqno)
        {
            throw new InvalidOperationException($"{leaves} leaves after {_frontier.Size} go past the last transaction taken in, {_state.LastSeqno}");
        }

        _frontier.AppendSubtree(root, leaves);
    }

    private static string? Order(in Cursor cursor, in EntryHeader header)
    {
        if (header.Id.Seqno != cursor.LastSeqno + 1)
        {
            return $"transaction {header.Id} does not follow seqno {cursor.LastSeqno}";
        }

        return header.Id.View < cursor.LastView ? $"transaction {header.Id} goes back from view {cursor.LastView}" : null;
    }

    /// <summary>
    /// The chain rules for one transaction after <paramref name="cursor"/>: its seqno follows, its view does not go back,
    /// and a signature signs the root of <paramref name="before"/> (every leaf before it; needed for signatures only)
    /// with an endorsed node's key. Moves <paramref name="cursor"/> on when it holds.
    /// </summary>
    private string? Step(ref Cursor cursor, in EntryHeader header, ReadOnlySpan<byte> body, MerkleFrontier? before)
    {
        if (Order(cursor, header) is { } disorder)
        {
            return disorder;
        }

        if (header.Kind == EntryKind.Signature)
        {
            if (!SignatureEntry.TryDecode(body, header, out var signature, out var error))
            {
                return $"signature {header.Id}: {error}";
            }

            var root = before!.Root();
            if (_signatures.Check(signature!, header.Id, root, cursor.LastSignatureSeqno) is { } refused)
            {
                return $"signature {header.Id}: {refused}";
            }

            cursor.LastSignatureSeqno = header.Id.Seqno;
            cursor.LastSignatureId = header.Id;
            cursor.LastSignedRoot = root;
            cursor.Signatures++;
        }

        cursor.LastSeqno = header.Id.Seqno;
        cursor.LastView = header.Id.View;
        return null;
    }

    /// <summary>Where the chain stands: what the rules compare the next transaction with.</summary>
    private struct Cursor
    {
        public long LastSeqno;
        public long LastView;
        public long LastSignatureSeqno;
        public TxId LastSignatureId;
        public Hash32 LastSignedRoot;
        public long Signatures;
    }

    /// <summary>Takes frames <see cref="TryCheck"/> accepted (all of them, in order) into the state.</summary>
    public void Commit(List<CheckedFrame> checkedFrames)
    {
        ArgumentNullException.ThrowIfNull(checkedFrames);
        foreach (var frame in checkedFrames)
        {
            if (frame.Header.Id.Seqno != _state.LastSeqno + 1)
            {
                throw new InvalidOperationException($"frame {frame.Header.Id} was not checked against this state");
            }

            if (frame.Header.Kind == EntryKind.Signature)
            {
                // Only the seqno: a store applying batches asks for no signed root, so none is computed again here.
                _state.LastSignatureSeqno = frame.Header.Id.Seqno;
            }

            _frontier.Append(frame.Leaf);
            _state.LastSeqno = frame.Header.Id.Seqno;
            _state.LastView = Math.Max(_state.LastView, frame.Header.Id.View);
        }
    }

    private static string Describe(FrameStatus status) => status switch
    {
        FrameStatus.Truncated => "frame is truncated",
        FrameStatus.BadLength => "frame length is out of range",
        FrameStatus.BadChecksum => "frame checksum does not match",
        _ => status.ToString(),
    };
}
