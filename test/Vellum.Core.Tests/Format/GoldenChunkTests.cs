using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Core.Tests.Entries;

namespace Vellum.Core.Tests.Format;

/// <summary>
/// Byte-for-byte golden chunk files (Format/Golden, see its README.md): the writer must reproduce them from fixed
/// inputs, and the reader must decode them to those inputs. A difference is a ledger format change.
/// </summary>
public sealed class GoldenChunkTests
{
    private const string RegenerateVariable = "VELLUM_REGENERATE_GOLDEN";
    private const long View = 2;

    private static readonly byte[] SecretBytes = Enumerable.Range(0, LedgerSecret.Size).Select(i => (byte)i).ToArray();

    // The signature entry's certificate and signature are fixed bytes: ECDSA is randomized and the codec does not
    // parse them (the verifier does, and would reject these).
    private static readonly byte[] FakeCertificate = "not a certificate: golden file bytes"u8.ToArray();
    private static readonly byte[] FakeSignature = "not a signature"u8.ToArray();
    private static readonly Hash32 FakeNodeId = Hash32.Compute("golden node"u8);

    public static TheoryData<string> Files => ["public_ledger_1-3.committed", "private_ledger_1-3.committed"];

    private static bool IsPrivate(string file) => file.StartsWith("private", StringComparison.Ordinal);

    /// <summary>The user entries of both golden chunks (seqnos 1 and 2); seqno 3 is the signature.</summary>
    private static UserEntry[] UserEntries() =>
    [
        new UserEntry(UserEntry.DefaultCollectionId, ["tag-a", "tag-b"], "Hello world"u8.ToArray(),
            [new EntryClaim(EntryClaimKind.LedgerEntryV1, Convert.FromBase64String("Jde/VvaIfyrjQ/B19P+UJCBwmcrgN7sERStoyHnYO0M="), null, default)]),
        new UserEntry("collection-é", [], "Grüße, 世界"u8.ToArray(),
            [new EntryClaim(EntryClaimKind.ClaimDigest, null, "MyProtocol", new Hash32(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray()))]),
    ];

    private static byte[] Build(bool isPrivate)
    {
        using var secret = new LedgerSecret(SecretBytes);
        var file = new List<byte>(new byte[ChunkFormat.HeaderSize]);
        ChunkFormat.WriteHeader(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(file), 1, isPrivate);
        var positions = new List<long>();
        var frontier = new MerkleFrontier();
        void Append(byte[] body)
        {
            Assert.True(EntryHeader.TryRead(body, out var header, out var error), error);
            frontier.Append(EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest));
            positions.Add(file.Count);
            var frame = new byte[Frame.HeaderSize + body.Length];
            Frame.Write(frame, body);
            file.AddRange(frame);
        }

        long seqno = 1;
        foreach (var entry in UserEntries())
        {
            Append(EntryCodec.Encode(entry, new TxId(View, seqno++), secret, isPrivate ? secret : null));
        }

        var signatureId = new TxId(View, seqno);
        var signature = new SignatureEntry(seqno - 1, frontier.Root(), 1, FakeNodeId, FakeCertificate, FakeSignature);
        Append(signature.Encode(signatureId, secret.CommitEvidenceDigest(signatureId)));

        var trailer = new byte[ChunkFormat.TrailerLength(positions.Count)];
        ChunkFormat.WriteTrailer(trailer, positions.ToArray());
        file.AddRange(trailer);
        return file.ToArray();
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Writer_reproduces_the_golden_file(string name)
    {
        var built = Build(IsPrivate(name));
        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
        {
            File.WriteAllBytes(Path.Combine(SourceGoldenDirectory(), name), built);
            return;
        }

        var golden = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Format", "Golden", name));
        var firstDifference = built.AsSpan().CommonPrefixLength(golden);
        Assert.True(built.AsSpan().SequenceEqual(golden),
            $"{name}: the writer's bytes differ from the golden file at byte {firstDifference} (built {built.Length} bytes, golden {golden.Length}). " +
            $"This is a ledger format change: document it in docs/ledger-format.md and regenerate with {RegenerateVariable}=1.");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Reader_decodes_the_golden_file(string name)
    {
        var isPrivate = IsPrivate(name);
        var file = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Format", "Golden", name));
        using var secret = new LedgerSecret(SecretBytes);
        Assert.True(ChunkFormat.TryParseName(name[(name.IndexOf('_', StringComparison.Ordinal) + 1)..], out var first, out var last, out var committed));
        Assert.True(committed);

        Assert.True(ChunkFormat.TryReadHeader(file, out var headerFirst, out var headerPrivate, out var error), error);
        Assert.Equal(first, headerFirst);
        Assert.Equal(isPrivate, headerPrivate);
        Assert.True(ChunkFormat.TryReadTrailer(file, out var count, out var positionsOffset, out error), error);
        Assert.Equal(last - first + 1, count);

        var expected = UserEntries();
        var frontier = new MerkleFrontier();
        long offset = ChunkFormat.HeaderSize;
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(offset, ChunkFormat.ReadPosition(file, positionsOffset, i));
            var frame = file.AsSpan((int)offset, (int)(positionsOffset - offset));
            Assert.Equal(FrameStatus.Ok, Frame.TryRead(frame, out var bodyLength));
            var body = frame.Slice(Frame.HeaderSize, bodyLength).ToArray();
            var header = EntryCodec.Header(body);
            Assert.Equal(new TxId(View, first + i), header.Id);
            Assert.Equal(secret.CommitEvidenceDigest(header.Id), header.CommitEvidenceDigest);
            if (i < expected.Length)
            {
                Assert.Equal(EntryKind.UserEntry, header.Kind);
                Assert.Equal(isPrivate, header.IsEncrypted);
                Assert.Equal(expected[i].ClaimsDigest(), header.ClaimsDigest);
                EntryCodec.AssertSame(expected[i], EntryCodec.Decode(body, secret));
                Assert.Equal(!isPrivate, UserEntry.TryDecode(body, header, null, out _, out _));
            }
            else
            {
                Assert.True(SignatureEntry.TryDecode(body, header, out var signature, out error), error);
                Assert.Equal(frontier.Root(), signature!.Root);
                Assert.Equal(FakeCertificate, signature.NodeCertificateDer);
                Assert.Equal(FakeSignature, signature.Signature);
                Assert.Equal(FakeNodeId, signature.NodeId);
            }

            frontier.Append(EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest));
            offset += Frame.HeaderSize + bodyLength;
        }

        Assert.Equal(positionsOffset, offset);
    }

    private static string SourceGoldenDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Vellum.Core.Tests.csproj")))
            {
                return Path.Combine(directory.FullName, "Format", "Golden");
            }
        }

        throw new InvalidOperationException($"No Vellum.Core.Tests.csproj above {AppContext.BaseDirectory}.");
    }
}
