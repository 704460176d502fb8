using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Storage.IO;
using Vellum.Storage.Ledger;

namespace Vellum.Storage.Indexing;

/// <summary>
/// Seqnos by collection id, by tag, and of every signature and user-management transaction: one posting file per key
/// (<c>index/{c|t|s|u|g|p}-{sha256 of key}</c>: u8 kind, u16 key length, key UTF-8, then u64 LE seqnos ascending), plus
/// a <c>watermark</c> (u64 LE last indexed seqno, u32 CRC-32C). A <c>p</c> posting marks a tag used in a collection
/// (<see cref="CollectionTagKey"/>) and holds only the first entry that did. Derived data: rebuilt from the ledger
/// files when missing or of an earlier format (no <c>format-2</c> file: before collection tags), caught up when stale,
/// and trimmed to the watermark after a crash.
/// </summary>
/// <remarks>
/// Postings are buffered in memory and written at chunk boundaries (and on close); the watermark is written only
/// after the postings it covers are fsynced, so it never claims more than the files hold. Thread-safe.
/// </remarks>
public sealed class LedgerIndex
{
    /// <summary>Posting kind of a collection id.</summary>
    public const byte CollectionKind = (byte)'c';

    /// <summary>Posting kind of a tag.</summary>
    public const byte TagKind = (byte)'t';

    /// <summary>Posting kind of signature transactions (one key, the empty string).</summary>
    public const byte SignatureKind = (byte)'s';

    /// <summary>Posting kind of user-management transactions (one key, the empty string).</summary>
    public const byte UserChangeKind = (byte)'u';

    /// <summary>Posting kind of governance transactions (one key, the empty string).</summary>
    public const byte GovernanceKind = (byte)'g';

    /// <summary>Posting kind of a tag used in a collection (<see cref="CollectionTagKey"/>; its first entry only).</summary>
    public const byte CollectionTagKind = (byte)'p';

    private const string FormatMarker = "format-2";

    private readonly string _directory;
    private readonly Lock _lock = new();
    private readonly Dictionary<(byte Kind, string Key), Posting> _postings = [];
    private readonly HashSet<(string CollectionId, string Tag)> _collectionTags = []; // the 'p' postings' pairs, looked up without a key string
    private long _watermark;
    private long _indexed;

    private LedgerIndex(string directory) => _directory = directory;

    /// <summary>The last seqno whose postings are in the index.</summary>
    public long IndexedSeqno
    {
        get
        {
            lock (_lock)
            {
                return _indexed;
            }
        }
    }

    /// <summary>Opens the index, discarding it when its watermark is missing or damaged.</summary>
    public static LedgerIndex Open(string directory)
    {
        var index = new LedgerIndex(directory);
        OwnerOnly.CreateDirectory(directory);
        var watermarkPath = Path.Combine(directory, "watermark");
        var marker = Path.Combine(directory, FormatMarker);
        if (!TryReadWatermark(watermarkPath, out var watermark) || !File.Exists(marker))
        {
            // Missing, damaged, or of the format before collection tags: rebuilt from the ledger by CatchUp.
            foreach (var file in Directory.EnumerateFiles(directory))
            {
                File.Delete(file);
            }

            watermark = 0;
            Durability.WriteFileAtomic(marker, "2\n"u8);
        }

        foreach (var file in Directory.EnumerateFiles(directory, "?-*"))
        {
            index.LoadPosting(file, watermark);
        }

        index._watermark = index._indexed = watermark;
        return index;
    }

    /// <summary>Indexes every transaction after the watermark up to <paramref name="lastSeqno"/>.</summary>
    public void CatchUp(long lastSeqno, Func<long, byte[]> readBody)
    {
        ArgumentNullException.ThrowIfNull(readBody);
        if (_indexed > lastSeqno)
        {
            // The index is ahead of the ledger (its files came from elsewhere): start again.
            lock (_lock)
            {
                foreach (var posting in _postings.Values)
                {
                    File.Delete(posting.Path);
                }

                _postings.Clear();
                _collectionTags.Clear();
                _indexed = _watermark = 0;
            }
        }

        for (var seqno = _indexed + 1; seqno <= lastSeqno; seqno++)
        {
            AddBody(seqno, readBody(seqno));
        }

        Flush(lastSeqno);
    }

    /// <summary>Indexes the frames of a durable batch.</summary>
    internal void Add(PendingBatch batch)
    {
        var bytes = batch.Bytes;
        var offsets = batch.FrameOffsets;
        for (var i = 0; i < offsets.Length; i++)
        {
            var frame = bytes[offsets[i]..];
            var length = BinaryPrimitives.ReadInt32LittleEndian(frame);
            AddBody(batch.FirstSeqno + i, frame.Slice(Frame.HeaderSize, length));
        }
    }

    private void AddBody(long seqno, ReadOnlySpan<byte> body)
    {
        if (!EntryHeader.TryRead(body, out var header, out var error))
        {
            throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
        }

        lock (_lock)
        {
            if (header.Kind == EntryKind.Signature)
            {
                GetPosting(SignatureKind, string.Empty).Pending.Add(seqno);
            }
            else if (header.Kind == EntryKind.UserManagement)
            {
                GetPosting(UserChangeKind, string.Empty).Pending.Add(seqno);
            }
            else if (header.Kind == EntryKind.Governance)
            {
                GetPosting(GovernanceKind, string.Empty).Pending.Add(seqno);
            }
            else if (header.Kind == EntryKind.UserEntry)
            {
                if (!UserEntry.TryDecodePublic(body, header, out var collectionId, out var tags, out error))
                {
                    throw new LedgerCorruptException($"transaction {seqno} is malformed: {error}");
                }

                GetPosting(CollectionKind, collectionId).Pending.Add(seqno);
                foreach (var tag in tags)
                {
                    var posting = GetPosting(TagKind, tag);
                    if (posting.Pending.Count == 0 || posting.Pending[^1] != seqno)
                    {
                        posting.Pending.Add(seqno);
                    }

                    if (_collectionTags.Add((collectionId, tag)))
                    {
                        GetPosting(CollectionTagKind, CollectionTagKey(collectionId, tag)).Pending.Add(seqno);
                    }
                }
            }

            _indexed = seqno;
        }
    }

    /// <summary>Writes buffered postings, fsyncs them, then moves the watermark to <paramref name="seqno"/>.</summary>
    public void Flush(long seqno)
    {
        lock (_lock)
        {
            seqno = Math.Min(seqno, _indexed);
            if (seqno <= _watermark)
            {
                return;
            }

            foreach (var posting in _postings.Values)
            {
                posting.WritePending();
            }

            Span<byte> record = stackalloc byte[12];
            BinaryPrimitives.WriteInt64LittleEndian(record, _indexed);
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32C.Compute(record[..8]));
            Durability.WriteFileAtomic(Path.Combine(_directory, "watermark"), record);
            _watermark = _indexed;
        }
    }

    /// <summary>The collection ids that have entries, in ordinal order.</summary>
    public IReadOnlyList<string> Collections() => Keys(CollectionKind);

    /// <summary>The tags that have entries, in ordinal order.</summary>
    public IReadOnlyList<string> Tags() => Keys(TagKind);

    /// <summary>The key of tag <paramref name="tag"/> in collection <paramref name="collectionId"/>: <c>{length of the id}:{id}{tag}</c>.</summary>
    public static string CollectionTagKey(string collectionId, string tag)
    {
        ArgumentNullException.ThrowIfNull(collectionId);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{collectionId.Length}:{collectionId}{tag}");
    }

    private static bool TryParseCollectionTagKey(string key, out string collectionId, out string tag)
    {
        var colon = key.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && int.TryParse(key.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length) &&
            length <= key.Length - colon - 1)
        {
            collectionId = key.Substring(colon + 1, length);
            tag = key[(colon + 1 + length)..];
            return true;
        }

        collectionId = tag = string.Empty;
        return false;
    }

    /// <summary>Every (collection, tag) pair that has an entry.</summary>
    public IReadOnlyList<(string CollectionId, string Tag)> CollectionTags()
    {
        lock (_lock)
        {
            return [.. _collectionTags];
        }
    }

    /// <summary>
    /// The tags used in collection <paramref name="collectionId"/> that sort (ordinally) after <paramref name="after"/>
    /// (all when null), in ordinal order, at most <paramref name="max"/>.
    /// </summary>
    public IReadOnlyList<string> TagsIn(string collectionId, string? after, int max)
    {
        var tags = new List<string>();
        lock (_lock)
        {
            foreach (var (collection, tag) in _collectionTags)
            {
                if (string.Equals(collection, collectionId, StringComparison.Ordinal) && (after is null || string.CompareOrdinal(tag, after) > 0))
                {
                    tags.Add(tag);
                }
            }
        }

        tags.Sort(StringComparer.Ordinal);
        return tags.Count > max ? tags[..max] : tags;
    }

    /// <summary>
    /// Up to <paramref name="max"/> seqnos of key (<paramref name="kind"/>, <paramref name="key"/>) that are at least
    /// <paramref name="fromSeqno"/>, ascending. O(log n) reads to find the start.
    /// </summary>
    public IReadOnlyList<long> Read(byte kind, string key, long fromSeqno, int max)
    {
        lock (_lock)
        {
            return _postings.TryGetValue((kind, key), out var posting) ? posting.Read(fromSeqno, max) : [];
        }
    }

    /// <summary>The highest seqno of a key, or 0 when it has none.</summary>
    public long Last(byte kind, string key)
    {
        lock (_lock)
        {
            return _postings.TryGetValue((kind, key), out var posting) ? posting.Last() : 0;
        }
    }

    /// <summary>The first signature transaction at or after <paramref name="seqno"/>, or 0.</summary>
    public long SignatureAtOrAfter(long seqno)
    {
        var found = Read(SignatureKind, string.Empty, seqno, 1);
        return found.Count == 0 ? 0 : found[0];
    }

    private List<string> Keys(byte kind)
    {
        lock (_lock)
        {
            var keys = new List<string>();
            foreach (var key in _postings.Keys)
            {
                if (key.Kind == kind)
                {
                    keys.Add(key.Key);
                }
            }

            keys.Sort(StringComparer.Ordinal);
            return keys;
        }
    }

    private Posting GetPosting(byte kind, string key)
    {
        if (!_postings.TryGetValue((kind, key), out var posting))
        {
            var name = $"{(char)kind}-{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))}";
            posting = new Posting(Path.Combine(_directory, name), kind, key, persisted: 0);
            _postings.Add((kind, key), posting);
        }

        return posting;
    }

    private void LoadPosting(string path, long watermark)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 3)
        {
            File.Delete(path);
            return;
        }

        var kind = bytes[0];
        var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(1));
        var headerLength = 3 + keyLength;
        if (bytes.Length < headerLength)
        {
            File.Delete(path);
            return;
        }

        var key = Encoding.UTF8.GetString(bytes, 3, keyLength);
        var count = (bytes.Length - headerLength) / 8;

        // Keep only seqnos the watermark vouches for: later ones may be from a batch a crash cut short.
        while (count > 0 && BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(headerLength + (8 * (count - 1)))) > watermark)
        {
            count--;
        }

        var length = headerLength + (8L * count);
        if (length != bytes.Length)
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.SetLength(handle, length);
        }

        _postings[(kind, key)] = new Posting(path, kind, key, count);
        if (kind == CollectionTagKind && count > 0 && TryParseCollectionTagKey(key, out var collectionId, out var tag))
        {
            _collectionTags.Add((collectionId, tag));
        }
    }

    private static bool TryReadWatermark(string path, out long watermark)
    {
        watermark = 0;
        if (!File.Exists(path))
        {
            return false;
        }

        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != 12 || Crc32C.Compute(bytes.AsSpan(0, 8)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)))
        {
            return false;
        }

        watermark = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        return true;
    }

    private sealed class Posting(string path, byte kind, string key, long persisted)
    {
        private readonly int _headerLength = 3 + Encoding.UTF8.GetByteCount(key);

        public string Path { get; } = path;

        public List<long> Pending { get; } = [];

        private long Persisted { get; set; } = persisted;

        public void WritePending()
        {
            if (Pending.Count == 0)
            {
                return;
            }

            using var handle = File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.Write);
            var offset = (long)_headerLength + (8 * Persisted);
            if (Persisted == 0)
            {
                var header = new byte[_headerLength];
                header[0] = kind;
                BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(1), (ushort)(_headerLength - 3));
                Encoding.UTF8.GetBytes(key, header.AsSpan(3));
                RandomAccess.Write(handle, header, 0);
                OwnerOnly.Restrict(handle); // a new file (or one being rewritten from its start)
            }

            var data = new byte[8 * Pending.Count];
            for (var i = 0; i < Pending.Count; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(8 * i), Pending[i]);
            }

            RandomAccess.Write(handle, data, offset);
            RandomAccess.FlushToDisk(handle);
            Persisted += Pending.Count;
            Pending.Clear();
        }

        public long Last()
        {
            if (Pending.Count > 0)
            {
                return Pending[^1];
            }

            if (Persisted == 0)
            {
                return 0;
            }

            using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read);
            Span<byte> value = stackalloc byte[8];
            RandomAccess.Read(handle, value, _headerLength + (8 * (Persisted - 1)));
            return BinaryPrimitives.ReadInt64LittleEndian(value);
        }

        public List<long> Read(long fromSeqno, int max)
        {
            var result = new List<long>(Math.Min(max, 1024));
            if (Persisted > 0)
            {
                using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read);
                Span<byte> value = stackalloc byte[8];
                long lo = 0, hi = Persisted;
                while (lo < hi)
                {
                    var mid = (lo + hi) >>> 1;
                    RandomAccess.Read(handle, value, _headerLength + (8 * mid));
                    if (BinaryPrimitives.ReadInt64LittleEndian(value) < fromSeqno)
                    {
                        lo = mid + 1;
                    }
                    else
                    {
                        hi = mid;
                    }
                }

                var take = (int)Math.Min(max, Persisted - lo);
                if (take > 0)
                {
                    var data = new byte[8 * take];
                    RandomAccess.Read(handle, data, _headerLength + (8 * lo));
                    for (var i = 0; i < take; i++)
                    {
                        result.Add(BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(8 * i)));
                    }
                }
            }

            foreach (var seqno in Pending)
            {
                if (result.Count >= max)
                {
                    break;
                }

                if (seqno >= fromSeqno)
                {
                    result.Add(seqno);
                }
            }

            return result;
        }
    }
}
