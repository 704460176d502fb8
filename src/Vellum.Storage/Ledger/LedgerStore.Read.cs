using Microsoft.Win32.SafeHandles;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Primitives;
using Vellum.Storage.Indexing;

namespace Vellum.Storage.Ledger;

public sealed partial class LedgerStore
{
    /// <summary>
    /// The entry body of a durable transaction, checked against its frame checksum. Throws
    /// <see cref="ArgumentOutOfRangeException"/> for a seqno that is not durable yet and
    /// <see cref="LedgerCorruptException"/> (file and offset) for a damaged frame.
    /// </summary>
    public byte[] ReadBody(long seqno) => ReadCheckedFrame(seqno)[Frame.HeaderSize..];

    /// <summary>The whole frame (header and body) of a durable transaction, checked against its checksum.</summary>
    private byte[] ReadCheckedFrame(long seqno)
    {
        // The open chunk's handle is closed when the chunk is committed; a read that raced with that finds the same
        // entry, at the same offset, in the committed file on the next try.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return ReadFrameOnce(seqno);
            }
            catch (ObjectDisposedException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>
    /// The durable transactions from <paramref name="fromSeqno"/> on, as the frames a primary replicates (each body
    /// checked against its checksum on the way out), stopping before the total would pass
    /// <paramref name="maxBytes"/> (at least one frame is returned when there is one). Empty when
    /// <paramref name="fromSeqno"/> is past <see cref="DurableSeqno"/>. Another member applies them with
    /// <see cref="ApplyCommitted"/>, which checks them again, so a node can catch up from a peer's ledger files.
    /// </summary>
    /// <param name="fromSeqno">The first seqno wanted (≥ 1).</param>
    /// <param name="maxBytes">A bound on the bytes returned.</param>
    /// <param name="lastSeqno">The seqno of the last frame returned, or <c>fromSeqno - 1</c> when none.</param>
    public byte[] ReadFrames(long fromSeqno, int maxBytes, out long lastSeqno)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fromSeqno, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var durable = DurableSeqno;
        var frames = new List<byte[]>();
        var total = 0;
        for (var seqno = fromSeqno; seqno <= durable; seqno++)
        {
            // The frame as stored, already checked: copied out whole, not re-encoded.
            var frame = ReadCheckedFrame(seqno);
            if (frames.Count > 0 && total + frame.Length > maxBytes)
            {
                break;
            }

            frames.Add(frame);
            total += frame.Length;
        }

        // One copy into an array of the exact size.
        var output = new byte[total];
        var offset = 0;
        foreach (var frame in frames)
        {
            frame.CopyTo(output, offset);
            offset += frame.Length;
        }

        lastSeqno = fromSeqno - 1 + frames.Count;
        return output;
    }

    private byte[] ReadFrameOnce(long seqno)
    {
        string path;
        long position = 0;
        long tableSlot = 0;
        SafeFileHandle? openHandle = null;
        SafeFileHandle? committedHandle = null;
        lock (_readLock)
        {
            if (_openChunk is { } open && seqno >= open.FirstSeqno && seqno - open.FirstSeqno < open.Positions.Count)
            {
                path = open.Path;
                position = open.Positions[(int)(seqno - open.FirstSeqno)];
                if (position >= open.FileLength)
                {
                    // Gathered in memory, not yet in the file (LedgerStoreOptions.WriteBehindBytes).
                    return ReadFrame(open.Tail.Span[(int)(position - open.FileLength)..], path, position, seqno);
                }

                openHandle = open.Handle;
            }
            else
            {
                var chunk = FindCommittedChunk(seqno) ?? throw new ArgumentOutOfRangeException(nameof(seqno), $"transaction {seqno} is not in the ledger yet");
                path = chunk.Path;
                tableSlot = chunk.PositionsOffset + (8 * (seqno - chunk.FirstSeqno));
                committedHandle = CommittedHandle(path);
            }
        }

        if (openHandle is not null)
        {
            return ReadFrame(openHandle, path, position, seqno);
        }

        Span<byte> positionBytes = stackalloc byte[8];
        RandomAccess.Read(committedHandle!, positionBytes, tableSlot);
        return ReadFrame(committedHandle!, path, System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(positionBytes), seqno);
    }

    /// <summary>
    /// A read handle on a committed chunk, from a cache of the 32 most recently opened (under <c>_readLock</c>).
    /// Reads are positional, so one handle serves every reader; an evicted handle is disposed, and a read that was
    /// about to use it retries (<see cref="ReadBody"/>).
    /// </summary>
    private SafeFileHandle CommittedHandle(string path)
    {
        if (_committedHandles.TryGetValue(path, out var handle))
        {
            return handle;
        }

        if (_committedHandles.Count >= 32)
        {
            var oldest = _committedHandleOrder.Dequeue();
            _committedHandles.Remove(oldest, out var evicted);
            evicted?.Dispose();
        }

        handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        _committedHandles[path] = handle;
        _committedHandleOrder.Enqueue(path);
        return handle;
    }

    private readonly Dictionary<string, SafeFileHandle> _committedHandles = new(StringComparer.Ordinal);
    private readonly Queue<string> _committedHandleOrder = new();

    /// <summary>Reads and decodes a durable transaction's header.</summary>
    public EntryHeader ReadHeader(long seqno)
    {
        var body = ReadBody(seqno);
        return EntryHeader.TryRead(body, out var header, out var error)
            ? header
            : throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
    }

    /// <summary>
    /// The transactions of the single-key posting <paramref name="kind"/> (user changes, governance) after
    /// <paramref name="afterSeqno"/> and up to <paramref name="upToSeqno"/>, in seqno order, each with its body and
    /// header: what a table kept from such transactions (users, retired nodes) replays to catch up with the store.
    /// </summary>
    public IEnumerable<(long Seqno, byte[] Body, EntryHeader Header)> ReadPosted(byte kind, long afterSeqno, long upToSeqno)
    {
        foreach (var seqno in Index.Read(kind, string.Empty, afterSeqno + 1, int.MaxValue))
        {
            if (seqno > upToSeqno)
            {
                yield break;
            }

            var body = ReadBody(seqno);
            if (!EntryHeader.TryRead(body, out var header, out var error))
            {
                throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
            }

            yield return (seqno, body, header);
        }
    }

    /// <summary>Reads a durable user entry, decrypting it in a Private ledger.</summary>
    public (TxId Id, UserEntry Entry) ReadUserEntry(long seqno) => DecodeUserEntry(seqno, ReadBody(seqno));

    /// <summary>Decodes a user entry from a body already read with <see cref="ReadBody"/>.</summary>
    public (TxId Id, UserEntry Entry) DecodeUserEntry(long seqno, byte[] body)
    {
        if (!EntryHeader.TryRead(body, out var header, out var error) || !UserEntry.TryDecode(body, header, _secret, out var entry, out error))
        {
            throw new LedgerCorruptException($"transaction {seqno} is not a readable user entry: {error}");
        }

        return (header.Id, entry!);
    }

    /// <summary>
    /// A page of the durable user entries of <paramref name="collectionId"/> from <paramref name="fromSeqno"/> to
    /// <paramref name="toSeqno"/>, ascending; with <paramref name="tag"/>, only entries with that tag. The work is
    /// bounded: at most <paramref name="examineLimit"/> index postings are examined, and a tag's postings in other
    /// collections count (each costs a read of the entry's public section, not its contents).
    /// </summary>
    /// <param name="collectionId">The collection listed.</param>
    /// <param name="tag">A tag the entries must carry, or null for every entry of the collection.</param>
    /// <param name="fromSeqno">The first seqno wanted.</param>
    /// <param name="toSeqno">The last seqno wanted (capped at <see cref="DurableSeqno"/>).</param>
    /// <param name="pageSize">At most this many entries are returned (≥ 1).</param>
    /// <param name="examineLimit">At most this many postings are examined (≥ 1).</param>
    /// <param name="nextSeqno">
    /// Where the next page starts: the next matching entry after a full page, or the first posting not examined when
    /// the limit stopped the scan (the page may then hold fewer entries, even none); 0 when nothing is left.
    /// </param>
    public List<(TxId Id, UserEntry Entry)> ReadEntries(
        string collectionId, string? tag, long fromSeqno, long toSeqno, int pageSize, int examineLimit, out long nextSeqno)
    {
        var seqnos = FindEntries(collectionId, tag, fromSeqno, toSeqno, pageSize, examineLimit, out nextSeqno);
        var page = new List<(TxId Id, UserEntry Entry)>(seqnos.Count);
        foreach (var seqno in seqnos)
        {
            page.Add(ReadUserEntry(seqno));
        }

        return page;
    }

    /// <summary>
    /// The seqnos of the page <see cref="ReadEntries"/> would return, with the same bounds and the same
    /// <paramref name="nextSeqno"/>, without holding the entries: a caller that writes a page as it reads it
    /// (<see cref="ReadUserEntry"/> one at a time) keeps one entry in memory, not the page.
    /// </summary>
    public List<long> FindEntries(
        string collectionId, string? tag, long fromSeqno, long toSeqno, int pageSize, int examineLimit, out long nextSeqno)
    {
        ArgumentNullException.ThrowIfNull(collectionId);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(examineLimit, 1);
        var (kind, key) = tag is null ? (LedgerIndex.CollectionKind, collectionId) : (LedgerIndex.TagKind, tag);
        var last = Math.Min(toSeqno, DurableSeqno);
        var page = new List<long>(Math.Min(pageSize, 1024));
        var examined = 0;
        var cursor = fromSeqno;
        nextSeqno = 0;
        while (cursor <= last)
        {
            // One posting more than may be examined: it tells whether a next page has anything to start from.
            var seqnos = Index.Read(kind, key, cursor, Math.Min(examineLimit - examined, 1024) + 1);
            if (seqnos.Count == 0)
            {
                break;
            }

            foreach (var seqno in seqnos)
            {
                if (seqno > last)
                {
                    return page;
                }

                if (examined == examineLimit)
                {
                    nextSeqno = seqno;
                    return page;
                }

                examined++;
                cursor = seqno + 1;
                // A tag's posting may lie in another collection: the entry's public section says which (its contents
                // are not decrypted here; the caller reads the entries it keeps). A collection's postings are its
                // entries by construction (LedgerIndex files each entry under its decoded collection id), so a plain
                // listing reads each entry once, in the caller.
                if (kind == LedgerIndex.TagKind)
                {
                    var body = ReadBody(seqno);
                    if (!EntryHeader.TryRead(body, out var header, out var error) ||
                        !UserEntry.TryDecodePublic(body, header, out var entryCollection, out _, out error))
                    {
                        throw new LedgerCorruptException($"transaction {seqno} is not a readable user entry: {error}");
                    }

                    if (entryCollection != collectionId)
                    {
                        continue;
                    }
                }

                if (page.Count == pageSize)
                {
                    nextSeqno = seqno;
                    return page;
                }

                page.Add(seqno);
            }
        }

        return page;
    }

    private ChunkInfo? FindCommittedChunk(long seqno)
    {
        int lo = 0, hi = _committedChunks.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var chunk = _committedChunks[mid];
            if (seqno < chunk.FirstSeqno)
            {
                hi = mid - 1;
            }
            else if (seqno > chunk.LastSeqno)
            {
                lo = mid + 1;
            }
            else
            {
                return chunk;
            }
        }

        return null;
    }

    /// <summary>A frame at the start of <paramref name="bytes"/> (an open chunk's tail), copied out and checked.</summary>
    private static byte[] ReadFrame(ReadOnlySpan<byte> bytes, string path, long offset, long seqno)
    {
        if (Frame.TryRead(bytes, out var bodyLength) != FrameStatus.Ok)
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {seqno}: frame checksum does not match");
        }

        return bytes[..(Frame.HeaderSize + bodyLength)].ToArray();
    }

    private static byte[] ReadFrame(SafeFileHandle handle, string path, long offset, long seqno)
    {
        Span<byte> frameHeader = stackalloc byte[Frame.HeaderSize];
        if (RandomAccess.Read(handle, frameHeader, offset) != Frame.HeaderSize)
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {seqno} is truncated");
        }

        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(frameHeader);
        if (length <= 0 || length > Frame.MaxBodyLength)
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {seqno}: frame length is out of range");
        }

        var frame = new byte[Frame.HeaderSize + length];
        if (RandomAccess.Read(handle, frame, offset) != frame.Length || Frame.TryRead(frame, out _) != FrameStatus.Ok)
        {
            throw new LedgerCorruptException(path, offset, $"entry for seqno {seqno}: frame checksum does not match");
        }

        return frame;
    }
}
