using System.Buffers.Binary;
using System.Text;
using Vellum.Core.Entries;
using Vellum.Core.Format;

namespace Vellum.Storage.Tests.Verification;

/// <summary>
/// A ledger of 1,200 user entries (with tags and application claims on some) plus its signatures, generated once per
/// test class through the real store, with 16 KiB chunks so there are many of them.
/// </summary>
public sealed class GeneratedLedger : IAsyncLifetime
{
    public const int Entries = 1200;

    internal TestLedger Ledger { get; private set; } = null!;

    /// <summary>Chunk files in verification order: name and bytes.</summary>
    public List<(string Name, byte[] Bytes)> Chunks { get; } = [];

    public async ValueTask InitializeAsync()
    {
        Ledger = new TestLedger();
        await using (var store = Ledger.Open(Ledger.Options(chunkSize: 16 * 1024), signatureInterval: 25))
        {
            for (var i = 0; i < Entries; i++)
            {
                var claims = i % 7 == 0 ? new[] { EntryClaim.NewLedgerEntry() } : [];
                var tags = i % 5 == 0 ? new[] { "t1", "t2" } : [];
                await store.AppendAsync(new UserEntry($"c{i % 4}", tags, Encoding.UTF8.GetBytes($"entry {i} {new string('q', i % 300)}"), claims));
            }

            await store.WaitForCommitAsync(store.LastSeqno);
        }

        foreach (var path in Storage.Verification.LedgerDirectoryVerifier.OrderChunks(Directory.EnumerateFiles(Ledger.Data.Default.Chunks)))
        {
            Chunks.Add((Path.GetFileName(path), File.ReadAllBytes(path)));
        }
    }

    public ValueTask DisposeAsync()
    {
        Ledger.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>A named byte range of a chunk file, and the start of the frame it belongs to (-1 outside frames).</summary>
    public sealed record Region(string Kind, int Start, int End, int FrameStart);

    /// <summary>Maps every byte of a chunk file to what it is.</summary>
    public static List<Region> Map(byte[] file, bool committed)
    {
        var regions = new List<Region> { new("file header", 0, ChunkFormat.HeaderSize, -1) };
        var framesEnd = file.Length;
        if (committed)
        {
            Assert.True(ChunkFormat.TryReadTrailer(file, out _, out var positions, out _));
            framesEnd = (int)positions;
            regions.Add(new Region("positions table", framesEnd, file.Length - ChunkFormat.TrailerSize, -1));
            regions.Add(new Region("trailer", file.Length - ChunkFormat.TrailerSize, file.Length, -1));
        }

        var offset = ChunkFormat.HeaderSize;
        while (offset < framesEnd)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(offset));
            var body = file.AsSpan(offset + Frame.HeaderSize, length);
            Assert.True(EntryHeader.TryRead(body, out var header, out _));
            var bodyStart = offset + Frame.HeaderSize;
            var publicStart = bodyStart + EntryHeader.Size;
            var privateStart = publicStart + header.PublicLength;
            regions.Add(new Region("frame header", offset, bodyStart, offset));
            regions.Add(new Region("entry header", bodyStart, publicStart, offset));
            if (header.Kind == EntryKind.Signature)
            {
                var certLength = BinaryPrimitives.ReadUInt16LittleEndian(body[(EntryHeader.Size + 80)..]);
                var certStart = publicStart + 82;
                regions.Add(new Region("signature root and ids", publicStart, certStart, offset));
                regions.Add(new Region("node certificate", certStart, certStart + certLength, offset));
                regions.Add(new Region("ECDSA signature", certStart + certLength, privateStart, offset));
            }
            else
            {
                regions.Add(new Region("public section", publicStart, privateStart, offset));
                regions.Add(new Region("contents", privateStart, bodyStart + length, offset));
            }

            offset = bodyStart + length;
        }

        return regions;
    }
}
