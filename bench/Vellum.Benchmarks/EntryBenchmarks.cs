using BenchmarkDotNet.Attributes;
using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;
using Vellum.Core.Primitives;

namespace Vellum.Benchmarks;

/// <summary>
/// The per-transaction work of sequencing a 256-byte user entry, piece by piece and as <c>LedgerStore.AppendAsync</c>
/// does it under its lock (claims digest, commit evidence digest, encode — encrypting in a Private ledger — frame
/// checksum, leaf).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class EntryBenchmarks
{
    private readonly UserEntry _entry = new(UserEntry.DefaultCollectionId, TempLedger.Contents());
    private LedgerSecret _secret = null!;
    private byte[] _frame = [];
    private Hash32 _ced;
    private long _seqno;

    [Params(false, true)]
    public bool IsPrivate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _secret = LedgerSecret.Generate();
        _frame = new byte[Frame.HeaderSize + _entry.EncodedLength(IsPrivate)];
        _ced = _secret.CommitEvidenceDigest(new TxId(1, 1));
        _entry.Encode(_frame.AsSpan(Frame.HeaderSize), new TxId(1, 1), _ced, Hash32.Zero, IsPrivate ? _secret : null);
    }

    [GlobalCleanup]
    public void Cleanup() => _secret.Dispose();

    /// <summary>SHA-256(SHA-256(body) ‖ commit evidence digest ‖ claims digest) over the encoded body.</summary>
    [Benchmark]
    public Hash32 ComputeLeaf() => EntryHeader.ComputeLeaf(_frame.AsSpan(Frame.HeaderSize), _ced, Hash32.Zero);

    /// <summary>HMAC for the nonce, then SHA-256 of the commit evidence string.</summary>
    [Benchmark]
    public Hash32 CommitEvidenceDigest() => _secret.CommitEvidenceDigest(new TxId(2, ++_seqno));

    /// <summary>UserEntry.Encode (with AES-GCM in a Private ledger) plus the commit evidence digest it carries.</summary>
    [Benchmark]
    public int EncodeWithCommitEvidence()
    {
        var id = new TxId(2, ++_seqno);
        var ced = _secret.CommitEvidenceDigest(id);
        _entry.Encode(_frame.AsSpan(Frame.HeaderSize), id, ced, Hash32.Zero, IsPrivate ? _secret : null);
        return _frame[Frame.HeaderSize + 1];
    }

    /// <summary>Everything AppendAsync does per user entry under the sequence lock except the Merkle append.</summary>
    [Benchmark]
    public Hash32 Sequence()
    {
        var id = new TxId(2, ++_seqno);
        var claimsDigest = _entry.ClaimsDigest();
        var body = _frame.AsSpan(Frame.HeaderSize, _entry.EncodedLength(IsPrivate));
        var ced = _secret.CommitEvidenceDigest(id);
        _entry.Encode(body, id, ced, claimsDigest, IsPrivate ? _secret : null);
        Frame.WriteHeader(_frame, body);
        return EntryHeader.ComputeLeaf(body, ced, claimsDigest);
    }
}
