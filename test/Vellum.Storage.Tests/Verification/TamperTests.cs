using System.Buffers.Binary;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Verification;
using Vellum.Storage.Verification;

namespace Vellum.Storage.Tests.Verification;

public sealed class TamperTests(GeneratedLedger generated) : IClassFixture<GeneratedLedger>
{
    [Fact]
    public void The_generated_ledger_verifies()
    {
        var (summary, failure) = Verify(generated.Chunks);
        Assert.Null(failure);
        Assert.Equal(GeneratedLedger.Entries, summary!.Transactions - summary.Signatures);
        Assert.True(summary.Chunks >= 10, $"{summary.Chunks} chunks");
        Assert.True(summary.Signatures >= GeneratedLedger.Entries / 25);
    }

    [Fact]
    public void Flipping_any_single_byte_fails_and_names_the_file_and_the_entry()
    {
        var random = new Random(7);
        var samples = new List<(int File, GeneratedLedger.Region Region, int Position)>();
        var byKind = new Dictionary<string, List<(int, GeneratedLedger.Region)>>();
        for (var f = 0; f < generated.Chunks.Count; f++)
        {
            var (name, bytes) = generated.Chunks[f];
            foreach (var region in GeneratedLedger.Map(bytes, name.EndsWith(".committed", StringComparison.Ordinal)))
            {
                if (!byKind.TryGetValue(region.Kind, out var list))
                {
                    byKind[region.Kind] = list = [];
                }

                list.Add((f, region));
            }
        }

        // Every kind of region, sampled evenly: headers, public parts, contents, signatures, certificates, tables.
        Assert.Equal(10, byKind.Count);
        foreach (var (_, regions) in byKind)
        {
            for (var i = 0; i < 60; i++)
            {
                var (file, region) = regions[random.Next(regions.Count)];
                samples.Add((file, region, random.Next(region.Start, region.End)));
            }
        }

        Assert.True(samples.Count >= 500);
        foreach (var (file, region, position) in samples)
        {
            var chunks = generated.Chunks.Select(c => (c.Name, (byte[])c.Bytes.Clone())).ToList();
            chunks[file].Item2[position] ^= (byte)(1 << random.Next(8));
            var (_, failure) = Verify(chunks);
            var what = $"flip in {region.Kind} of {chunks[file].Name} at byte {position}";
            Assert.True(failure is not null, what + " was not detected");
            Assert.True(failure.File == chunks[file].Name, $"{what}: reported {failure}");
            if (region.FrameStart >= 0)
            {
                Assert.True(failure.Offset == region.FrameStart, $"{what}: expected the entry at byte {region.FrameStart}, reported {failure}");
            }
            else if (region.Kind == "file header")
            {
                Assert.True(failure.Offset is >= 0 and < ChunkFormat.HeaderSize, $"{what}: reported {failure}");
            }
            else
            {
                Assert.True(failure.Offset >= region.Start - 8 || region.Kind == "trailer", $"{what}: reported {failure}");
            }
        }
    }

    [Fact]
    public void An_altered_entry_with_a_recomputed_checksum_is_caught_by_the_next_signature()
    {
        var chunks = generated.Chunks.Select(c => (c.Name, (byte[])c.Bytes.Clone())).ToList();
        var (name, bytes) = chunks[2];
        var regions = GeneratedLedger.Map(bytes, committed: true);
        // An entry without claims (its last byte, the claim count, is 0): with claims the claims digest would already
        // catch the change at the entry itself.
        var contents = regions.First(r => r.Kind == "contents" && bytes[r.End - 1] == 0);
        bytes[contents.Start + 6] ^= 0x20; // change one letter of the contents (after the u32 length)...
        var body = bytes.AsSpan(contents.FrameStart + Frame.HeaderSize, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(contents.FrameStart)));
        Frame.WriteHeader(bytes.AsSpan(contents.FrameStart), body); // ...and forge the checksum
        Assert.True(EntryHeader.TryRead(body, out var altered, out _));

        var (_, failure) = Verify(chunks);
        Assert.NotNull(failure);
        Assert.Equal(name, failure.File);
        var signature = regions.First(r => r.Kind == "signature root and ids" && r.FrameStart > contents.FrameStart);
        Assert.Equal(signature.FrameStart, failure.Offset);
        Assert.True(failure.Seqno > altered.Id.Seqno);
        Assert.Contains("altered", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_forged_signature_with_a_recomputed_checksum_fails()
    {
        var chunks = generated.Chunks.Select(c => (c.Name, (byte[])c.Bytes.Clone())).ToList();
        var bytes = chunks[1].Item2;
        var sig = GeneratedLedger.Map(bytes, committed: true).First(r => r.Kind == "ECDSA signature");
        bytes[sig.End - 3] ^= 0x01;
        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(sig.FrameStart));
        Frame.WriteHeader(bytes.AsSpan(sig.FrameStart), bytes.AsSpan(sig.FrameStart + Frame.HeaderSize, length));
        var (_, failure) = Verify(chunks);
        Assert.NotNull(failure);
        Assert.Equal(sig.FrameStart, failure.Offset);
        Assert.Contains("signature", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncating_a_committed_chunk_fails()
    {
        foreach (var cut in new[] { 1, 24, 100, 2000 })
        {
            var chunks = generated.Chunks.ToList();
            chunks[3] = (chunks[3].Name, chunks[3].Bytes[..^cut]);
            var (_, failure) = Verify(chunks);
            Assert.NotNull(failure);
            Assert.Equal(chunks[3].Name, failure.File);
        }
    }

    [Fact]
    public void Deleting_a_middle_chunk_fails_naming_the_gap()
    {
        var chunks = generated.Chunks.ToList();
        var removed = chunks[4];
        chunks.RemoveAt(4);
        var (_, failure) = Verify(chunks);
        Assert.NotNull(failure);
        Assert.Equal(chunks[4].Name, failure.File);
        Assert.Contains("missing", failure.Message, StringComparison.Ordinal);
        Assert.True(ChunkFormat.TryParseName(removed.Name, out var first, out _, out _));
        Assert.Equal(first, failure.Seqno);
    }

    [Fact]
    public void Reordering_chunks_fails()
    {
        // Swap the contents of two chunk files (their names stay in order): the seqnos inside disagree.
        var chunks = generated.Chunks.ToList();
        (chunks[2], chunks[3]) = ((chunks[2].Name, chunks[3].Bytes), (chunks[3].Name, chunks[2].Bytes));
        var (_, failure) = Verify(chunks);
        Assert.NotNull(failure);
        Assert.Equal(chunks[2].Name, failure.File);
    }

    [Fact]
    public void Swapping_two_entries_fails_even_with_a_consistent_positions_table()
    {
        var (name, original) = generated.Chunks[2];
        var frames = GeneratedLedger.Map(original, committed: true).Where(r => r.Kind == "frame header").Select(r => r.FrameStart).ToList();
        Assert.True(ChunkFormat.TryReadTrailer(original, out _, out var framesEnd, out _));
        var spans = frames.Select((start, i) => original[start..(i + 1 < frames.Count ? frames[i + 1] : (int)framesEnd)]).ToList();
        (spans[1], spans[2]) = (spans[2], spans[1]);

        // Rebuild the file with the two frames swapped and a positions table that matches the new order.
        var rebuilt = new List<byte>(original[..ChunkFormat.HeaderSize]);
        var positions = new List<long>();
        foreach (var span in spans)
        {
            positions.Add(rebuilt.Count);
            rebuilt.AddRange(span);
        }

        var trailer = new byte[ChunkFormat.TrailerLength(positions.Count)];
        ChunkFormat.WriteTrailer(trailer, positions.ToArray());
        rebuilt.AddRange(trailer);
        var chunks = generated.Chunks.ToList();
        chunks[2] = (name, rebuilt.ToArray());

        var (_, failure) = Verify(chunks);
        Assert.NotNull(failure);
        Assert.Equal(name, failure.File);
        Assert.Equal(positions[1], failure.Offset);
        Assert.Contains("expected", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_certificate_not_endorsed_by_the_service_fails()
    {
        using var other = Vellum.Core.Identity.ServiceIdentity.Create();
        var verifier = new LedgerVerifier(other.Certificate);
        VerificationFailure? failure = null;
        foreach (var (name, bytes) in generated.Chunks)
        {
            failure ??= verifier.VerifyChunk(name, bytes);
        }

        Assert.NotNull(failure);
        Assert.Contains("not endorsed", failure.Message, StringComparison.Ordinal);
        Assert.Equal(EntryKind.Signature, ReadKind(generated.Chunks.Single(c => c.Name == failure.File).Bytes, (int)failure.Offset));
    }

    private static EntryKind ReadKind(byte[] file, int frameStart) => (EntryKind)file[frameStart + Frame.HeaderSize + 1];

    private (VerificationSummary? Summary, VerificationFailure? Failure) Verify(List<(string Name, byte[] Bytes)> chunks)
    {
        var verifier = new LedgerVerifier(generated.Ledger.Service.Certificate, generated.Ledger.Secret);
        foreach (var (name, bytes) in chunks)
        {
            var failure = verifier.VerifyChunk(name, bytes);
            if (failure is not null)
            {
                return (null, failure);
            }
        }

        return verifier.Finish();
    }
}
