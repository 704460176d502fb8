using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>One frame of a checked batch: its leaf, where it lies in the batch, and its header.</summary>
public readonly record struct CheckedFrame(Hash32 Leaf, int Offset, int Length, EntryHeader Header);

/// <summary>
/// Whether batches of frames continue one ledger, for a store that applies them (committed batches from consensus,
/// transactions fetched from a peer): each frame's checksum and header, seqnos continuing the ledger, views never
/// going back, and every signature against the root of everything before it, signed by a node its service identity
/// endorsed (<see cref="SignatureChecker"/>). A batch is checked without changing anything (<see cref="TryCheck"/>), and
/// only a batch the caller has written is taken into the state (<see cref="Commit"/>), so a bad one changes nothing.
/// </summary>
/// <remarks>
/// State: the Merkle frontier of the ledger so far (O(log n) hashes), the last seqno, view and signature. It resumes
/// from a ledger opened in the middle. Entry contents are not decrypted here (that is <see cref="LedgerVerifier"/>'s,
/// with the secret); their leaves are what the signatures bind. Not thread-safe: one applier at a time.
/// </remarks>
public sealed class ChainValidator
{
    private readonly SignatureChecker _signatures;
    private readonly MerkleFrontier _frontier;
    private long _lastSeqno;
    private long _lastView;
    private long _lastSignatureSeqno;

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
        _lastSeqno = frontier.Size;
        _lastView = lastView;
        _lastSignatureSeqno = lastSignatureSeqno;
    }

    /// <summary>The last seqno taken into the state.</summary>
    public long LastSeqno => _lastSeqno;

    /// <summary>Signatures checked without their ECDSA verification, as this process's own.</summary>
    public long SignaturesSkippedAsOwn => _signatures.SkippedAsOwn;

    /// <summary>The highest view taken into the state.</summary>
    public long LastView => _lastView;

    /// <summary>The seqno of the last signature taken into the state.</summary>
    public long LastSignatureSeqno => _lastSignatureSeqno;

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
        var expected = _lastSeqno + 1;
        var view = _lastView;
        var lastSignature = _lastSignatureSeqno;
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
            if (header.Id.Seqno < expected)
            {
                if (checkedFrames.Count > 0)
                {
                    return $"transaction {header.Id} goes back after seqno {expected - 1}";
                }

                // A replay (consensus passes committed batches again after a restart): it must be the same transaction.
                if (appliedId(header.Id.Seqno) != header.Id)
                {
                    return $"transaction {header.Id} differs from the applied one at seqno {header.Id.Seqno}";
                }

                offset += frameLength;
                continue;
            }

            if (header.Id.Seqno != expected)
            {
                return $"transaction {header.Id} does not follow seqno {expected - 1}";
            }

            if (header.Id.View < view)
            {
                return $"transaction {header.Id} goes back from view {view}";
            }

            var leaf = EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest);
            if (header.Kind == EntryKind.Signature)
            {
                // Roots are taken from a copy of the frontier, made at the first signature: a batch without one needs none.
                if (scratch is null)
                {
                    scratch = _frontier.Clone();
                    foreach (var earlier in checkedFrames)
                    {
                        scratch.Append(earlier.Leaf);
                    }
                }

                if (!SignatureEntry.TryDecode(body, header, out var signature, out error))
                {
                    return $"signature {header.Id}: {error}";
                }

                if (_signatures.Check(signature!, header.Id, scratch.Root(), lastSignature) is { } refused)
                {
                    return $"signature {header.Id}: {refused}";
                }

                lastSignature = header.Id.Seqno;
            }

            scratch?.Append(leaf);
            checkedFrames.Add(new CheckedFrame(leaf, offset, frameLength, header));
            view = header.Id.View;
            offset += frameLength;
            expected++;
        }

        return null;
    }

    /// <summary>Takes frames <see cref="TryCheck"/> accepted (all of them, in order) into the state.</summary>
    public void Commit(List<CheckedFrame> checkedFrames)
    {
        ArgumentNullException.ThrowIfNull(checkedFrames);
        foreach (var frame in checkedFrames)
        {
            if (frame.Header.Id.Seqno != _lastSeqno + 1)
            {
                throw new InvalidOperationException($"frame {frame.Header.Id} was not checked against this state");
            }

            _frontier.Append(frame.Leaf);
            _lastSeqno = frame.Header.Id.Seqno;
            _lastView = Math.Max(_lastView, frame.Header.Id.View);
            if (frame.Header.Kind == EntryKind.Signature)
            {
                _lastSignatureSeqno = frame.Header.Id.Seqno;
            }
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
