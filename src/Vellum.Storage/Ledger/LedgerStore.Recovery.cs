using System.Buffers.Binary;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Merkle;
using Vellum.Core.Primitives;
using Vellum.Core.Verification;
using Vellum.Storage.IO;
using Vellum.Storage.Indexing;
using Vellum.Storage.Tiles;

namespace Vellum.Storage.Ledger;

public sealed partial class LedgerStore
{
    /// <summary>
    /// Opens (or creates) a ledger. Recovery: checks every committed chunk's header and trailer and the frames of the
    /// last one; truncates a torn tail of the open chunk to its last whole entry; refuses to open, naming file and
    /// offset, when a committed chunk or the middle of the open chunk is damaged; reopens the Merkle tree from its
    /// tiles and checks it against the last signed root (rebuilding the tiles from the ledger if they disagree); and
    /// brings the indexes up to date. It starts no view: the sequencer's owner does (<see cref="StartView"/> on a
    /// single node, the consensus term in a cluster).
    /// </summary>
    /// <param name="options">Where the ledger lives and how it is written.</param>
    /// <param name="secret">The ledger secret (commit evidence in receipts, and decryption for a Private ledger).</param>
    /// <param name="serviceCertificate">The ledger's service certificate: every node that signs a batch applied later must be endorsed by it.</param>
    /// <param name="logger">Where to log; none if null.</param>
    /// <param name="ownSignatures">
    /// The signatures this process's sequencer makes for this ledger: applying them skips their ECDSA verification
    /// (see <see cref="SignaturesIssued"/>). Null verifies every signature.
    /// </param>
    public static LedgerStore Open(
        LedgerStoreOptions options, LedgerSecret secret, X509Certificate2 serviceCertificate, ILogger? logger = null, SignaturesIssued? ownSignatures = null)
    {
        logger ??= NullLogger.Instance;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(serviceCertificate);
        OwnerOnly.CreateDirectory(options.LedgerDirectory);
        OwnerOnly.CreateDirectory(options.StateDirectory);

        var scan = ScanChunks(options);
        if (scan.TornTail is { } torn)
        {
            LogMessages.TornTailTruncated(logger, torn.File, torn.Offset, torn.Bytes);
        }

        var tilesDirectory = Path.Combine(options.StateDirectory, "tiles");
        var tiles = new FileTileStore(tilesDirectory);
        var index = LedgerIndex.Open(Path.Combine(options.StateDirectory, "index"));
        var store = new LedgerStore(options, secret, tiles, index, null!, logger);
        store._committedChunks.AddRange(scan.Committed);
        store._openChunk = scan.Open;
        store._durableSeqno = scan.LastSeqno;
        store._committedSeqno = scan.LastSignatureSeqno;
        store._lastView = scan.LastView;
        store._bytesInChunk = scan.Open is null ? 0 : scan.Open.Length - ChunkFormat.HeaderSize;

        store._tree = store.OpenTree(tiles, scan);
        store._validator = new ChainValidator(serviceCertificate, store.Frontier(), scan.LastView, scan.LastSignatureSeqno, ownSignatures);
        store._index.CatchUp(scan.LastSeqno, store.ReadBody);
        store._lastUserChangeSeqno = store._index.Last(LedgerIndex.UserChangeKind, string.Empty);
        store._lastGovernanceSeqno = store._index.Last(LedgerIndex.GovernanceKind, string.Empty);

        if (scan.Open is not null && scan.LastSignatureSeqno == scan.LastSeqno && store._bytesInChunk >= options.ChunkSizeThreshold)
        {
            // The crash came between the closing signature and the rename: finish closing.
            store.CloseChunk(scan.Open);
            store._bytesInChunk = 0;
            LogMessages.ChunkCloseCompleted(logger, scan.Open.Path);
        }

        LogMessages.StoreOpened(logger, options.LedgerDirectory, scan.LastSeqno, scan.LastSignatureSeqno, scan.LastView);
        return store;
    }

    /// <summary>The right edge of the opened tree: one subtree root per set bit of its size.</summary>
    private MerkleFrontier Frontier()
    {
        var frontier = new MerkleFrontier();
        long start = 0;
        for (var width = 1L << 62; width > 0; width >>= 1)
        {
            if ((_tree.Size & width) != 0)
            {
                frontier.AppendSubtree(_tree.SubtreeHash(start, start + width), width);
                start += width;
            }
        }

        return frontier;
    }

    private MerkleTree OpenTree(FileTileStore tiles, ChunkScan scan)
    {
        var tree = MerkleTree.Open(tiles, scan.LastSeqno, ReadLeaves, _options.TileCache);
        if (scan.LastSignatureSeqno == 0 || RootMatchesSignature(tree, scan.LastSignatureSeqno))
        {
            return tree;
        }

        // Tiles are a derived cache; when they disagree with the signed ledger, they are rebuilt from it.
        LogMessages.TilesRebuilt(_logger, tiles.RootDirectory);
        tree = MerkleTree.Rebuild(tiles, scan.LastSeqno, ReadLeaves, _options.TileCache);
        tiles.Flush();
        if (!RootMatchesSignature(tree, scan.LastSignatureSeqno))
        {
            throw new LedgerCorruptException(
                $"the Merkle root over the ledger files does not match the signature at seqno {scan.LastSignatureSeqno}; run 'vellum verify' on {_options.LedgerDirectory}");
        }

        return tree;
    }

    private bool RootMatchesSignature(MerkleTree tree, long signatureSeqno)
    {
        var body = ReadBody(signatureSeqno);
        if (!EntryHeader.TryRead(body, out var header, out var error) || !SignatureEntry.TryDecode(body, header, out var signature, out error))
        {
            throw new LedgerCorruptException($"signature transaction {signatureSeqno} is malformed: {error}");
        }

        return tree.RootAt(signature!.TreeSize) == signature.Root;
    }

    /// <summary>Leaves <c>[from, to)</c> (0-based leaf index = seqno - 1), re-derived from the stored entries.</summary>
    private IEnumerable<Hash32> ReadLeaves(long from, long to)
    {
        for (var index = from; index < to; index++)
        {
            var body = ReadBody(index + 1);
            if (!EntryHeader.TryRead(body, out var header, out var error))
            {
                throw new LedgerCorruptException($"transaction {index + 1} is malformed: {error}");
            }

            yield return EntryHeader.ComputeLeaf(body, header.CommitEvidenceDigest, header.ClaimsDigest);
        }
    }

    /// <summary>
    /// Starts a new view: one more than the highest view in the ledger or in the view file, made durable before any
    /// transaction is sequenced in it. This is what keeps every (view, seqno) — and so every AES-GCM nonce — unique:
    /// a seqno lost in a crash is reassigned only in a later view.
    /// </summary>
    /// <remarks>Only for a ledger whose views are not consensus terms (a single node); call it once per open.</remarks>
    public long StartView()
    {
        var lastViewInLedger = LastView;
        var path = Path.Combine(_options.StateDirectory, "view");
        long stored = 0;
        if (File.Exists(path))
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length != 12 || Crc32C.Compute(bytes.AsSpan(0, 8)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)))
            {
                throw new LedgerCorruptException(path, 0, "view file is damaged; it must never go backwards, so it is not rebuilt");
            }

            stored = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        }

        var view = Math.Max(stored, lastViewInLedger) + 1;
        Span<byte> record = stackalloc byte[12];
        BinaryPrimitives.WriteInt64LittleEndian(record, view);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32C.Compute(record[..8]));
        Durability.WriteFileAtomic(path, record);
        return view;
    }

    private sealed record ChunkScan(List<ChunkInfo> Committed, OpenChunk? Open, long LastSeqno, long LastSignatureSeqno, long LastView, (string File, long Offset, long Bytes)? TornTail);

    private static ChunkScan ScanChunks(LedgerStoreOptions options)
    {
        var committed = new List<ChunkInfo>();
        (string Path, long First)? open = null;
        foreach (var path in Directory.EnumerateFiles(options.LedgerDirectory))
        {
            var name = Path.GetFileName(path);
            if (!ChunkFormat.TryParseName(name, out var first, out var last, out var isCommitted))
            {
                continue;
            }

            if (isCommitted)
            {
                committed.Add(new ChunkInfo(path, first, last, 0));
            }
            else if (open is null)
            {
                open = (path, first);
            }
            else
            {
                throw new LedgerCorruptException(path, 0, $"two open chunks: {Path.GetFileName(open.Value.Path)} and {name}");
            }
        }

        committed.Sort((a, b) => a.FirstSeqno.CompareTo(b.FirstSeqno));
        var checkedChunks = new List<ChunkInfo>(committed.Count);
        long expected = 1;
        long lastView = 0;
        for (var i = 0; i < committed.Count; i++)
        {
            var chunk = committed[i];
            if (chunk.FirstSeqno != expected)
            {
                throw new LedgerCorruptException(chunk.Path, 0, $"chunk starts at seqno {chunk.FirstSeqno}, expected {expected} (a chunk is missing or overlaps)");
            }

            checkedChunks.Add(CheckCommittedChunk(chunk, options.IsPrivate, fullScan: i == committed.Count - 1, ref lastView));
            expected = chunk.LastSeqno + 1;
        }

        var lastSignature = expected - 1;
        OpenChunk? openChunk = null;
        var lastSeqno = expected - 1;
        (string, long, long)? tornTail = null;
        if (open is { } o)
        {
            if (o.First != expected)
            {
                throw new LedgerCorruptException(o.Path, 0, $"open chunk starts at seqno {o.First}, expected {expected}");
            }

            openChunk = RecoverOpenChunk(o.Path, o.First, options.IsPrivate, ref lastSignature, ref lastView, out tornTail);
            if (openChunk is not null)
            {
                lastSeqno = openChunk.FirstSeqno + openChunk.Positions.Count - 1;
            }
        }

        return new ChunkScan(checkedChunks, openChunk, lastSeqno, lastSignature, lastView, tornTail);
    }

    private static ChunkInfo CheckCommittedChunk(ChunkInfo chunk, bool isPrivate, bool fullScan, ref long lastView)
    {
        using var handle = File.OpenHandle(chunk.Path, FileMode.Open, FileAccess.Read);
        var length = RandomAccess.GetLength(handle);
        if (length > ChunkFormat.MaxFileSize)
        {
            throw new LedgerCorruptException(chunk.Path, 0, $"file of {length} bytes is larger than a chunk may be");
        }

        var count = chunk.LastSeqno - chunk.FirstSeqno + 1;
        if (length < ChunkFormat.HeaderSize + ChunkFormat.TrailerSize)
        {
            throw new LedgerCorruptException(chunk.Path, 0, $"committed chunk of {length} bytes is too short (truncated?)");
        }

        // The frames of older committed chunks are checked when read and by 'vellum verify'; open reads only their
        // header and trailer, and the whole of the last one.
        var bytes = fullScan ? new byte[length] : new byte[ChunkFormat.HeaderSize];
        RandomAccess.Read(handle, bytes, 0);
        if (!ChunkFormat.TryReadHeader(bytes, out var first, out var chunkPrivate, out var error))
        {
            throw new LedgerCorruptException(chunk.Path, 0, error);
        }

        if (first != chunk.FirstSeqno)
        {
            throw new LedgerCorruptException(chunk.Path, 16, $"header says the chunk starts at seqno {first}, its name says {chunk.FirstSeqno}");
        }

        if (chunkPrivate != isPrivate)
        {
            throw new LedgerCorruptException(chunk.Path, 10, $"chunk is {(chunkPrivate ? "Private" : "Public")}; the ledger is {(isPrivate ? "Private" : "Public")}");
        }

        var trailer = new byte[ChunkFormat.TrailerSize];
        RandomAccess.Read(handle, trailer, length - ChunkFormat.TrailerSize);
        if (!ChunkFormat.TryReadTrailerEnd(trailer, length, out var trailerCount, out var positionsOffset, out error))
        {
            throw new LedgerCorruptException(chunk.Path, length - ChunkFormat.TrailerSize, error);
        }

        if (trailerCount != count)
        {
            throw new LedgerCorruptException(chunk.Path, length - ChunkFormat.TrailerSize, $"trailer counts {trailerCount} entries; the name says {count}");
        }

        var table = new byte[length - positionsOffset];
        RandomAccess.Read(handle, table, positionsOffset);
        if (!ChunkFormat.TryCheckPositions(table, out error))
        {
            throw new LedgerCorruptException(chunk.Path, positionsOffset, error);
        }

        if (fullScan)
        {
            long offset = ChunkFormat.HeaderSize;
            for (long i = 0; i < count; i++)
            {
                if (ChunkFormat.ReadPosition(bytes, positionsOffset, i) != offset)
                {
                    throw new LedgerCorruptException(chunk.Path, positionsOffset + (8 * i), $"position of seqno {chunk.FirstSeqno + i} does not match the frames");
                }

                var frame = bytes.AsSpan((int)offset, (int)(positionsOffset - offset));
                var header = ReadFrameHeader(chunk.Path, offset, frame, chunk.FirstSeqno + i, out var frameLength);
                lastView = Math.Max(lastView, header.Id.View);
                if (i == count - 1 && header.Kind != EntryKind.Signature)
                {
                    throw new LedgerCorruptException(chunk.Path, offset, "a committed chunk must end with a signature transaction");
                }

                offset += frameLength;
            }

            if (offset != positionsOffset)
            {
                throw new LedgerCorruptException(chunk.Path, offset, "bytes between the last entry and the positions table");
            }
        }

        return chunk with { PositionsOffset = positionsOffset };
    }

    private static EntryHeader ReadFrameHeader(string path, long offset, ReadOnlySpan<byte> data, long expectedSeqno, out int frameLength)
    {
        var status = Frame.TryRead(data, out var bodyLength);
        if (status != FrameStatus.Ok)
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {expectedSeqno}: {Describe(status)}");
        }

        var body = data.Slice(Frame.HeaderSize, bodyLength);
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {expectedSeqno}: {error}");
        }

        if (header.Id.Seqno != expectedSeqno)
        {
            throw new LedgerCorruptException(path, offset, $"entry holds seqno {header.Id.Seqno}, expected {expectedSeqno}");
        }

        frameLength = Frame.HeaderSize + bodyLength;
        return header;
    }

    internal static string Describe(FrameStatus status) => status switch
    {
        FrameStatus.Truncated => "frame is truncated",
        FrameStatus.BadLength => "frame length is out of range",
        FrameStatus.BadChecksum => "frame checksum does not match",
        _ => status.ToString(),
    };

    /// <summary>
    /// Re-indexes the open chunk. A bad frame is a torn tail only when nothing valid follows it: an acknowledged
    /// write was fsynced before it was acknowledged, so a crash can only tear bytes after every acknowledged one.
    /// If a valid later entry exists, the damage is in the middle and the store refuses to open.
    /// </summary>
    private static OpenChunk? RecoverOpenChunk(string path, long firstSeqno, bool isPrivate, ref long lastSignature, ref long lastView, out (string, long, long)? tornTail)
    {
        tornTail = null;
        var bytes = File.ReadAllBytes(path);
        if (!ChunkFormat.TryReadHeader(bytes, out var first, out var chunkPrivate, out var error))
        {
            if (bytes.Length <= ChunkFormat.HeaderSize)
            {
                // Created but its header never became durable: nothing was acknowledged in it.
                File.Delete(path);
                return null;
            }

            throw new LedgerCorruptException(path, 0, error);
        }

        if (first != firstSeqno || chunkPrivate != isPrivate)
        {
            throw new LedgerCorruptException(path, 10, "open chunk header does not match its name or the ledger type");
        }

        var chunk = new OpenChunk(path, firstSeqno, handle: null, ChunkFormat.HeaderSize); // the file is opened at its first use
        var offset = ChunkFormat.HeaderSize;
        var expected = firstSeqno;
        while (offset < bytes.Length)
        {
            var data = bytes.AsSpan(offset);
            var status = Frame.TryRead(data, out var bodyLength);
            if (status != FrameStatus.Ok)
            {
                if (FindValidFrameAfter(bytes, offset + 1, expected))
                {
                    throw new LedgerCorruptException(path, offset, $"entry for seqno {expected}: {Describe(status)}, and valid entries follow it");
                }

                break;
            }

            var header = ReadFrameHeader(path, offset, data, expected, out var frameLength);
            lastView = Math.Max(lastView, header.Id.View);
            if (header.Kind == EntryKind.Signature)
            {
                lastSignature = expected;
            }

            chunk.Positions.Add(offset);
            offset += frameLength;
            expected++;
        }

        if (offset < bytes.Length)
        {
            // Torn tail: drop it and make the shorter file durable before anything is appended after it.
            tornTail = (path, offset, bytes.Length - offset);
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            RandomAccess.SetLength(handle, offset);
            RandomAccess.FlushToDisk(handle);
        }

        chunk.Length = offset;
        chunk.FileLength = offset;
        return chunk;
    }

    private static bool FindValidFrameAfter(byte[] bytes, int start, long minSeqno)
    {
        for (var offset = start; offset <= bytes.Length - Frame.HeaderSize - EntryHeader.Size; offset++)
        {
            var data = bytes.AsSpan(offset);
            var length = BinaryPrimitives.ReadInt32LittleEndian(data);
            if (length < EntryHeader.Size || length > data.Length - Frame.HeaderSize)
            {
                continue;
            }

            if (Frame.TryRead(data, out var bodyLength) == FrameStatus.Ok &&
                EntryHeader.TryRead(data.Slice(Frame.HeaderSize, bodyLength), out var header, out _) &&
                header.Id.Seqno >= minSeqno)
            {
                return true;
            }
        }

        return false;
    }
}
