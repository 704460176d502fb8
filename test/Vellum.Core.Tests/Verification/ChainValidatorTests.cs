using System.Text;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Identity;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Core.Tests.Entries;
using Vellum.Core.Verification;

namespace Vellum.Core.Tests.Verification;

public sealed class ChainValidatorTests : IDisposable
{
    private readonly ServiceIdentity _service = ServiceIdentity.Create();
    private readonly ServiceIdentity _otherService = ServiceIdentity.Create();

    [Fact]
    public void A_chain_of_batches_passes_and_the_state_follows_each_committed_batch()
    {
        using var node = NodeIdentity.Create(_service);
        var chain = new Chain(node);
        var validator = new ChainValidator(_service.Certificate, new MerkleFrontier(), lastView: 0, lastSignatureSeqno: 0);
        var checkedFrames = new List<CheckedFrame>();

        foreach (var batch in new[] { chain.Batch(5, view: 2), chain.Batch(3, view: 2), chain.Batch(4, view: 3) })
        {
            Assert.Null(validator.TryCheck(batch, NoReplay, checkedFrames));
            validator.Commit(checkedFrames);
        }

        Assert.Equal(chain.Seqno, validator.LastSeqno);
        Assert.Equal(3, validator.LastView);
        Assert.Equal(chain.Seqno, validator.LastSignatureSeqno);
        Assert.Equal(chain.Frontier.Root(), validator.CopyFrontier().Root());
    }

    [Fact]
    public void A_signature_by_a_node_another_service_endorsed_is_refused_and_changes_nothing()
    {
        using var node = NodeIdentity.Create(_service);
        using var stranger = NodeIdentity.Create(_otherService);
        var chain = new Chain(node);
        var validator = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0);
        var checkedFrames = new List<CheckedFrame>();
        Assert.Null(validator.TryCheck(chain.Batch(3, view: 2), NoReplay, checkedFrames));
        validator.Commit(checkedFrames);
        var before = (validator.LastSeqno, validator.LastSignatureSeqno, validator.CopyFrontier().Root());

        // The stranger's signature is sound in itself (its key signs the right root); only the endorsement is wrong.
        var forged = new Chain(stranger, chain).Batch(2, view: 2);
        Assert.Contains("not endorsed", validator.TryCheck(forged, NoReplay, checkedFrames), StringComparison.Ordinal);
        Assert.Equal(before, (validator.LastSeqno, validator.LastSignatureSeqno, validator.CopyFrontier().Root()));

        // The same transactions signed by an endorsed node pass.
        Assert.Null(validator.TryCheck(chain.Batch(2, view: 2), NoReplay, checkedFrames));
    }

    [Fact]
    public void Gaps_views_going_back_bad_checksums_and_wrong_roots_are_refused()
    {
        using var node = NodeIdentity.Create(_service);
        var chain = new Chain(node);
        var validator = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0);
        var checkedFrames = new List<CheckedFrame>();
        Assert.Null(validator.TryCheck(chain.Batch(3, view: 5), NoReplay, checkedFrames));
        validator.Commit(checkedFrames);

        var next = chain.Clone();
        var good = next.Batch(3, view: 5);

        var flipped = good.ToArray();
        flipped[^3] ^= 0x40;
        Assert.Contains("checksum", validator.TryCheck(flipped, NoReplay, checkedFrames), StringComparison.Ordinal);

        var skip = chain.Clone();
        skip.Skip();
        Assert.Contains("does not follow", validator.TryCheck(skip.Batch(2, view: 5), NoReplay, checkedFrames), StringComparison.Ordinal);

        Assert.Contains("goes back from view 5", validator.TryCheck(chain.Clone().Batch(2, view: 4), NoReplay, checkedFrames), StringComparison.Ordinal);

        // A node that signs the root of another history of the same length.
        var wrongRoot = chain.Clone();
        wrongRoot.ReplaceHistory();
        Assert.Contains("signed root", validator.TryCheck(wrongRoot.Batch(1, view: 5), NoReplay, checkedFrames), StringComparison.Ordinal);

        Assert.Null(validator.TryCheck(good, NoReplay, checkedFrames));
    }

    [Fact]
    public void A_ledger_walked_in_order_meets_the_same_rules_as_applied_batches()
    {
        using var node = NodeIdentity.Create(_service);
        using var stranger = NodeIdentity.Create(_otherService);
        var chain = new Chain(node);
        var batches = new[] { chain.Batch(5, view: 2), chain.Batch(3, view: 2), chain.Batch(4, view: 3) };
        var walker = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0);
        foreach (var (header, body) in batches.SelectMany(Frames))
        {
            Assert.Null(walker.Advance(header, body, EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest)));
        }

        Assert.Equal(chain.Seqno, walker.LastSeqno);
        Assert.Equal(3, walker.Signatures);
        Assert.Equal(chain.Seqno, walker.LastSignatureSeqno);
        Assert.Equal(chain.Frontier.Root(), walker.CopyFrontier().Root());

        // What a batch is refused for, a walk is refused for, with the same words; the refused step changes nothing.
        var applier = new ChainValidator(_service.Certificate, walker.CopyFrontier(), walker.LastView, walker.LastSignatureSeqno);
        foreach (var bad in new[] { chain.Clone().Batch(2, view: 2), new Chain(stranger, chain).Batch(2, view: 3) })
        {
            var batchReason = applier.TryCheck(bad, NoReplay, []);
            Assert.NotNull(batchReason);
            var walk = new ChainValidator(_service.Certificate, walker.CopyFrontier(), walker.LastView, walker.LastSignatureSeqno);
            string? walkReason = null;
            foreach (var (header, body) in Frames(bad))
            {
                var before = (walk.LastSeqno, walk.LastView, walk.CopyFrontier().Root());
                walkReason = walk.Advance(header, body, EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest));
                if (walkReason is not null)
                {
                    Assert.Equal(before, (walk.LastSeqno, walk.LastView, walk.CopyFrontier().Root()));
                    break;
                }
            }

            Assert.Equal(batchReason, walkReason);
        }

        // A block of leaves folded in at once: a signature must find every leaf before it in.
        var folded = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0);
        var frames = Frames(new Chain(node).Batch(4, view: 1)); // four entries, then their signature
        var leaves = frames.Select(f => EntryHeader.ComputeLeaf(f.Body, f.Header.CommitEvidenceDigest, f.Header.ClaimsDigest)).ToList();
        for (var i = 0; i < 4; i++)
        {
            Assert.Null(folded.Advance(frames[i].Header, frames[i].Body, leaves[i], appendLeaf: false));
        }

        Assert.Throws<InvalidOperationException>(() => folded.Advance(frames[4].Header, frames[4].Body, leaves[4]));
        var block = new MerkleFrontier();
        leaves.Take(4).ToList().ForEach(l => block.Append(l));
        folded.AppendSubtree(block.Root(), 4);
        Assert.Null(folded.Advance(frames[4].Header, frames[4].Body, leaves[4]));
        Assert.Throws<InvalidOperationException>(() => folded.AppendSubtree(block.Root(), 4));
    }

    /// <summary>The entries of a batch of frames, each header with its body (copied).</summary>
    private static List<(EntryHeader Header, byte[] Body)> Frames(byte[] batch)
    {
        var entries = new List<(EntryHeader, byte[])>();
        var offset = 0;
        while (offset < batch.Length)
        {
            Assert.Equal(FrameStatus.Ok, Frame.TryRead(batch.AsSpan(offset), out var length));
            var body = batch.AsSpan(offset + Frame.HeaderSize, length).ToArray();
            Assert.True(EntryHeader.TryRead(body, out var header, out _));
            entries.Add((header, body));
            offset += Frame.HeaderSize + length;
        }

        return entries;
    }

    [Fact]
    public void A_replay_of_applied_transactions_is_accepted_only_if_they_are_the_same()
    {
        using var node = NodeIdentity.Create(_service);
        var chain = new Chain(node);
        var validator = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0);
        var checkedFrames = new List<CheckedFrame>();
        var first = chain.Batch(4, view: 2);
        Assert.Null(validator.TryCheck(first, NoReplay, checkedFrames));
        validator.Commit(checkedFrames);

        Assert.Null(validator.TryCheck(first, seqno => new TxId(2, seqno), checkedFrames));
        Assert.Empty(checkedFrames);
        Assert.Contains("differs", validator.TryCheck(first, seqno => new TxId(1, seqno), checkedFrames), StringComparison.Ordinal);
    }

    [Fact]
    public void Signatures_this_process_made_skip_only_their_ecdsa_verification()
    {
        using var node = NodeIdentity.Create(_service);
        using var stranger = NodeIdentity.Create(_otherService);
        var issued = new SignaturesIssued();
        var chain = new Chain(node, issued);
        var validator = new ChainValidator(_service.Certificate, new MerkleFrontier(), 0, 0, issued);
        var checkedFrames = new List<CheckedFrame>();

        foreach (var batch in new[] { chain.Batch(3, view: 2), chain.Batch(2, view: 2) })
        {
            Assert.Null(validator.TryCheck(batch, NoReplay, checkedFrames));
            validator.Commit(checkedFrames);
        }

        Assert.Equal(2, validator.SignaturesSkippedAsOwn);

        // Made here, but by a node another service endorsed: the endorsement is still checked.
        Assert.Contains("not endorsed", validator.TryCheck(new Chain(stranger, chain, issued).Batch(1, view: 2), NoReplay, checkedFrames), StringComparison.Ordinal);

        // Made here over the root of another history: the root is still checked.
        var wrongRoot = new Chain(node, chain).WithIssued(issued);
        wrongRoot.ReplaceHistory();
        Assert.Contains("signed root", validator.TryCheck(wrongRoot.Batch(1, view: 2), NoReplay, checkedFrames), StringComparison.Ordinal);

        // Not made here (no record): verified as usual, and an altered signature fails.
        var unrecorded = chain.Clone().Batch(1, view: 2);
        var altered = unrecorded.ToArray();
        AlterSignature(altered);
        Assert.Contains("does not verify", validator.TryCheck(altered, NoReplay, checkedFrames), StringComparison.Ordinal);
        var skipped = validator.SignaturesSkippedAsOwn;
        Assert.Null(validator.TryCheck(unrecorded, NoReplay, checkedFrames));
        Assert.Equal(skipped, validator.SignaturesSkippedAsOwn);
    }

    [Fact]
    public void A_recorded_signature_is_recognised_once_and_only_with_its_root_node_and_bytes()
    {
        var issued = new SignaturesIssued();
        var root = Hash32.Compute([1]);
        var nodeId = Hash32.Compute([2]);
        byte[] signature = [3, 4, 5];
        issued.Record(root, nodeId, signature);

        Assert.False(issued.TryTake(Hash32.Compute([9]), nodeId, signature));
        Assert.False(issued.TryTake(root, Hash32.Compute([9]), signature));
        Assert.False(issued.TryTake(root, nodeId, [3, 4, 6]));
        Assert.True(issued.TryTake(root, nodeId, signature));
        Assert.False(issued.TryTake(root, nodeId, signature));

        // Bounded: the oldest records give way to new ones.
        issued.Record(root, nodeId, signature);
        for (var i = 0; i < SignaturesIssued.Capacity; i++)
        {
            issued.Record(Hash32.Compute(BitConverter.GetBytes(i)), nodeId, signature);
        }

        Assert.False(issued.TryTake(root, nodeId, signature));
    }

    /// <summary>Flips a bit inside the DER signature of the batch's last frame (its signature transaction) and refreshes the frame checksum.</summary>
    private static void AlterSignature(byte[] batch)
    {
        var offset = 0;
        var last = 0;
        while (offset < batch.Length)
        {
            last = offset;
            Assert.Equal(FrameStatus.Ok, Frame.TryRead(batch.AsSpan(offset), out var length));
            offset += Frame.HeaderSize + length;
        }

        var body = batch.AsSpan(last + Frame.HeaderSize);
        body[^20] ^= 0x01; // inside the ECDSA signature's s value, the last field of the public section
        Frame.WriteHeader(batch.AsSpan(last), body);
    }

    public void Dispose()
    {
        _service.Dispose();
        _otherService.Dispose();
    }

    private static TxId NoReplay(long seqno) => throw new InvalidOperationException($"seqno {seqno} is not a replay");

    /// <summary>Builds frames the way the sequencer does: user entries, then a signature over the root before it.</summary>
    private sealed class Chain(NodeIdentity node, SignaturesIssued? issued = null)
    {
        private readonly NodeRootSigner _signer = new(node, issued);
        private readonly Vellum.Core.Crypto.LedgerSecret _secret = EntryCodec.FixedSecret();

        public Chain(NodeIdentity node, Chain from, SignaturesIssued? record = null)
            : this(node, record)
        {
            Frontier = from.Frontier.Clone();
            Seqno = from.Seqno;
            LastSignature = from.LastSignature;
        }

        public MerkleFrontier Frontier { get; private set; } = new();

        public long Seqno { get; private set; }

        public long LastSignature { get; private set; }

        public Chain Clone() => new(node, this);

        /// <summary>This chain's history, signed through a signer that records in <paramref name="record"/>.</summary>
        public Chain WithIssued(SignaturesIssued record) => new(node, this, record);

        public void Skip() => Seqno++;

        /// <summary>Forgets the real history: the frontier becomes one over as many made-up leaves.</summary>
        public void ReplaceHistory()
        {
            Frontier = new MerkleFrontier();
            for (long i = 0; i < Seqno; i++)
            {
                Frontier.Append(Hash32.Compute(BitConverter.GetBytes(i)));
            }
        }

        /// <summary><paramref name="entries"/> user entries then a signature, all in <paramref name="view"/>.</summary>
        public byte[] Batch(int entries, long view)
        {
            var frames = new List<byte>();
            for (var i = 0; i < entries; i++)
            {
                var id = new TxId(view, ++Seqno);
                var body = EntryCodec.Encode(new UserEntry("c", [], Encoding.UTF8.GetBytes($"entry {Seqno}"), []), id, _secret, null);
                var header = EntryCodec.Header(body);
                Frontier.Append(EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest));
                frames.AddRange(Framed(body));
            }

            var signatureId = new TxId(view, ++Seqno);
            var root = Frontier.Root();
            var signature = new SignatureEntry(Frontier.Size, root, LastSignature + 1, _signer.NodeId, _signer.CertificateDer.ToArray(), _signer.SignRoot(root));
            var ced = _secret.CommitEvidenceDigest(signatureId);
            var signatureBody = signature.Encode(signatureId, ced);
            Frontier.Append(EntryHeader.ComputeLeaf(signatureBody, ced, Hash32.Zero));
            LastSignature = signatureId.Seqno;
            frames.AddRange(Framed(signatureBody));
            return [.. frames];
        }

        private static byte[] Framed(byte[] body)
        {
            var frame = new byte[Frame.HeaderSize + body.Length];
            body.CopyTo(frame, Frame.HeaderSize);
            Frame.WriteHeader(frame, frame.AsSpan(Frame.HeaderSize));
            return frame;
        }
    }
}
