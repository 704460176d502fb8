using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Crypto;
using Vellum.Core.Format;
using Vellum.Core.Verification;

namespace Vellum.Storage.Verification;

/// <summary>Progress of a verification run: bytes and transactions done so far, and the total bytes.</summary>
public readonly record struct VerificationProgress(long BytesDone, long BytesTotal, long Transactions);

/// <summary>
/// Runs <see cref="LedgerVerifier"/> over a ledger directory: finds the chunk files, orders them by first seqno and
/// feeds them whole, one at a time (memory: the largest chunk plus O(log n)).
/// </summary>
public static class LedgerDirectoryVerifier
{
    /// <summary>Verifies every chunk in <paramref name="ledgerDirectory"/>.</summary>
    public static (VerificationSummary? Summary, VerificationFailure? Failure) Verify(
        string ledgerDirectory,
        X509Certificate2 serviceCertificate,
        LedgerSecret? secret = null,
        Action<VerificationProgress>? progress = null)
    {
        if (!Directory.Exists(ledgerDirectory))
        {
            return (null, new VerificationFailure(null, -1, 0, $"{ledgerDirectory} is not a directory"));
        }

        var files = OrderChunks(Directory.EnumerateFiles(ledgerDirectory));
        long total = 0;
        foreach (var file in files)
        {
            total += new FileInfo(file).Length;
        }

        var verifier = new LedgerVerifier(serviceCertificate, secret);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long done = 0;
        try
        {
            foreach (var file in files)
            {
                var name = Path.GetFileName(file);
                var length = new FileInfo(file).Length;
                if (length > ChunkFormat.MaxFileSize)
                {
                    return (null, new VerificationFailure(name, -1, 0, $"file of {length} bytes is larger than a chunk may be"));
                }

                if (buffer.Length < length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent((int)length);
                }

                using (var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                {
                    length = RandomAccess.Read(handle, buffer.AsSpan(0, (int)length), 0);
                }

                var failure = verifier.VerifyChunk(name, buffer.AsMemory(0, (int)length));
                if (failure is not null)
                {
                    return (null, failure);
                }

                done += length;
                progress?.Invoke(new VerificationProgress(done, total, verifier.Transactions));
            }

            return verifier.Finish();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The chunk files among <paramref name="paths"/>, in the order a verifier reads them: by first seqno, and for
    /// equal starts (a duplicated range) the committed file first, so the duplicate is what gets reported. Other files
    /// are ignored.
    /// </summary>
    public static List<string> OrderChunks(IEnumerable<string> paths)
    {
        var files = new List<(string Path, long First, bool Committed)>();
        foreach (var path in paths)
        {
            if (ChunkFormat.TryParseName(Path.GetFileName(path), out var first, out _, out var committed))
            {
                files.Add((path, first, committed));
            }
        }

        files.Sort((a, b) => a.First != b.First ? a.First.CompareTo(b.First) : b.Committed.CompareTo(a.Committed));
        return files.ConvertAll(f => f.Path);
    }
}
