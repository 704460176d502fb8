using System.Text;
using Vellum.Core.Crypto;

namespace Vellum.Core.Tests.Crypto;

public sealed class LogSealTests
{
    private static readonly byte[] Batch = Encoding.UTF8.GetBytes("frames of a batch, with an entry saying hello world");

    [Fact]
    public void A_sealed_batch_opens_with_its_ledgers_key_and_shows_nothing_in_clear()
    {
        using var secret = LedgerSecret.Generate();
        using var seal = new LogSeal(secret);

        var sealedBatch = seal.Seal(Batch);

        Assert.True(LogSeal.IsSealed(sealedBatch));
        Assert.Equal(Batch.Length + LogSeal.Overhead, sealedBatch.Length);
        Assert.Equal(-1, sealedBatch.AsSpan().IndexOf("hello world"u8));
        Assert.True(seal.TryOpen(sealedBatch, out var opened, out var error), error);
        Assert.Equal(Batch, opened);

        // The same secret (another member, or after a restart) opens it too.
        using var again = new LogSeal(new LedgerSecret(SecretBytes(secret)));
        Assert.True(again.TryOpen(sealedBatch, out opened, out _));
        Assert.Equal(Batch, opened);
    }

    [Fact]
    public void Each_seal_of_the_same_batch_differs()
    {
        using var secret = LedgerSecret.Generate();
        using var seal = new LogSeal(secret);

        Assert.NotEqual(seal.Seal(Batch), seal.Seal(Batch));
        Assert.True(LogSeal.IsSealed(seal.Seal([])));
        Assert.True(seal.TryOpen(seal.Seal([]), out var empty, out _));
        Assert.Empty(empty);
    }

    [Fact]
    public void Another_ledgers_key_an_altered_byte_or_a_cut_batch_do_not_open()
    {
        using var secret = LedgerSecret.Generate();
        using var other = LedgerSecret.Generate();
        using var seal = new LogSeal(secret);
        using var otherSeal = new LogSeal(other);
        var sealedBatch = seal.Seal(Batch);

        Assert.False(otherSeal.TryOpen(sealedBatch, out _, out var error));
        Assert.Contains("log key", error, StringComparison.Ordinal);

        for (var i = 4; i < sealedBatch.Length; i += 7)
        {
            var altered = sealedBatch.ToArray();
            altered[i] ^= 0x01;
            Assert.False(seal.TryOpen(altered, out _, out _), $"byte {i} altered");
        }

        Assert.False(seal.TryOpen(sealedBatch.AsSpan(0, LogSeal.Overhead - 1), out _, out error));
        Assert.Contains("at least", error, StringComparison.Ordinal);
        Assert.False(seal.TryOpen(Batch, out _, out error));
        Assert.Equal("the batch is not sealed", error);
    }

    [Fact]
    public void One_opener_opens_the_batches_of_many_sealers_of_the_ledger()
    {
        using var secret = LedgerSecret.Generate();
        using var opener = new LogSeal(secret);
        var sealers = Enumerable.Range(0, 12).Select(_ => new LogSeal(secret)).ToArray();
        try
        {
            // More sealers (primaries over time) than the opener keeps keys for: older keys are made again when needed.
            var batches = sealers.Select((s, i) => s.Seal(Encoding.UTF8.GetBytes($"batch {i}"))).ToArray();
            foreach (var round in new[] { 0, 1 })
            {
                for (var i = 0; i < batches.Length; i++)
                {
                    Assert.True(opener.TryOpen(batches[i], out var opened, out var error), $"round {round}, sealer {i}: {error}");
                    Assert.Equal($"batch {i}", Encoding.UTF8.GetString(opened));
                }
            }
        }
        finally
        {
            foreach (var sealer in sealers)
            {
                sealer.Dispose();
            }
        }
    }

    [Fact]
    public void A_batch_in_clear_never_looks_sealed()
    {
        // A batch in clear starts with a frame's 32-bit length; the magic read as one is far past any batch.
        Assert.True(BitConverter.ToUInt32("VSB1"u8) > Vellum.Core.Format.Frame.MaxBodyLength);
        Assert.False(LogSeal.IsSealed(Batch));
        Assert.False(LogSeal.IsSealed([]));
    }

    private static byte[] SecretBytes(LedgerSecret secret)
    {
        var path = Path.Combine(Path.GetTempPath(), $"vellum-logseal-{Guid.NewGuid():N}");
        try
        {
            secret.Save(path);
            return Convert.FromHexString(File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
