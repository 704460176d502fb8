using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Vellum.Core.Crypto;
using Vellum.Core.Primitives;

namespace Vellum.Core.Tests.Crypto;

public sealed partial class LedgerSecretTests : IDisposable
{
    private static readonly byte[] SecretBytes = Enumerable.Range(0, LedgerSecret.Size).Select(i => (byte)(i * 7)).ToArray();
    private readonly LedgerSecret _secret = new(SecretBytes);
    private readonly string _directory = Directory.CreateTempSubdirectory("vellum-secret-").FullName;

    public void Dispose()
    {
        _secret.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [GeneratedRegex("^ce:3\\.17:[0-9a-f]{64}$")]
    private static partial Regex CommitEvidenceShape();

    [Fact]
    public void Commit_evidence_has_the_documented_form_and_derivation()
    {
        var id = new TxId(3, 17);
        var evidence = _secret.CommitEvidence(id);
        Assert.Matches(CommitEvidenceShape(), evidence);

        // nonce = HMAC-SHA256(HKDF-SHA256(secret, info "vellum/v1/commit-evidence"), ASCII "view.seqno")
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, SecretBytes, 32, null, "vellum/v1/commit-evidence"u8.ToArray());
        var nonce = HMACSHA256.HashData(key, "3.17"u8);
        Assert.Equal("ce:3.17:" + Convert.ToHexStringLower(nonce), evidence);
        var span = new byte[32];
        _secret.CommitEvidenceNonce(id, span);
        Assert.Equal(nonce, span);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(long.MaxValue, long.MaxValue)]
    public void Commit_evidence_digest_is_the_sha256_of_the_string(long view, long seqno)
    {
        var id = new TxId(view, seqno);
        var expected = SHA256.HashData(Encoding.ASCII.GetBytes(_secret.CommitEvidence(id)));
        Assert.Equal(new Hash32(expected), _secret.CommitEvidenceDigest(id));
    }

    [Fact]
    public void Commit_evidence_differs_per_transaction_and_per_secret_and_is_stable()
    {
        using var other = new LedgerSecret(SecretBytes.Select(b => (byte)(b ^ 1)).ToArray());
        using var same = new LedgerSecret(SecretBytes);
        var seen = new HashSet<string>();
        foreach (var id in new[] { new TxId(1, 1), new TxId(1, 2), new TxId(2, 1), new TxId(2, 2), new TxId(12, 3), new TxId(1, 23) })
        {
            Assert.True(seen.Add(_secret.CommitEvidence(id)), $"{id} repeats a nonce");
            Assert.True(seen.Add(other.CommitEvidence(id)), $"{id} under another secret repeats a nonce");
            Assert.Equal(_secret.CommitEvidence(id), same.CommitEvidence(id));
        }
    }

    [Fact]
    public void Entry_nonce_is_seqno_then_view()
    {
        var nonce = new byte[LedgerSecret.NonceSize];
        LedgerSecret.EntryNonce(new TxId(0x01020304, 0x1122334455667788), nonce);
        Assert.Equal(Convert.FromHexString("887766554433221104030201"), nonce);
        Assert.Throws<InvalidOperationException>(() => LedgerSecret.EntryNonce(new TxId((long)uint.MaxValue + 1, 1), nonce));
    }

    private static (byte[] Cipher, byte[] Tag) Encrypt(LedgerSecret secret, TxId id, byte[] plaintext, byte[] aad)
    {
        var cipher = new byte[plaintext.Length];
        var tag = new byte[LedgerSecret.TagSize];
        secret.Encrypt(id, plaintext, cipher, tag, aad);
        return (cipher, tag);
    }

    [Fact]
    public void Aes_gcm_round_trips_and_fails_on_any_change()
    {
        var id = new TxId(2, 5);
        var plaintext = Encoding.UTF8.GetBytes("attack at dawn, grüße");
        var aad = "header"u8.ToArray();
        var (cipher, tag) = Encrypt(_secret, id, plaintext, aad);
        Assert.NotEqual(plaintext, cipher);
        Assert.Equal(cipher, Encrypt(_secret, id, plaintext, aad).Cipher); // deterministic nonce: deterministic output

        var output = new byte[plaintext.Length];
        Assert.True(_secret.TryDecrypt(id, cipher, tag, output, aad));
        Assert.Equal(plaintext, output);

        byte[] Flip(byte[] a, int i)
        {
            var b = (byte[])a.Clone();
            b[i] ^= 0x80;
            return b;
        }

        Assert.False(_secret.TryDecrypt(id, Flip(cipher, 3), tag, output, aad));
        Assert.False(_secret.TryDecrypt(id, cipher, Flip(tag, 15), output, aad));
        Assert.False(_secret.TryDecrypt(id, cipher, tag, output, Flip(aad, 0)));
        Assert.False(_secret.TryDecrypt(new TxId(2, 6), cipher, tag, output, aad));
        Assert.False(_secret.TryDecrypt(new TxId(3, 5), cipher, tag, output, aad));
        Assert.False(_secret.TryDecrypt(new TxId(0, 5), cipher, tag, output, aad));
        Assert.False(_secret.TryDecrypt(new TxId((long)uint.MaxValue + 2, 5), cipher, tag, output, aad));
        using var other = new LedgerSecret(new byte[LedgerSecret.Size]);
        Assert.False(other.TryDecrypt(id, cipher, tag, output, aad));
    }

    [Fact]
    public void Same_seqno_in_another_view_encrypts_differently()
    {
        // A seqno lost in a crash is reused only in a later view; the view is in the nonce, so the keystream differs.
        var plaintext = new byte[64];
        var a = Encrypt(_secret, new TxId(1, 10), plaintext, []);
        var b = Encrypt(_secret, new TxId(2, 10), plaintext, []);
        Assert.NotEqual(a.Cipher, b.Cipher);
        Assert.NotEqual(a.Tag, b.Tag);
    }

    [Fact]
    public void One_instance_encrypts_and_decrypts_from_many_threads()
    {
        // The store encrypts under its sequencer lock while readers decrypt concurrently from request threads.
        var failures = 0;
        Parallel.For(0, 4 * Environment.ProcessorCount + 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var plaintext = new byte[257];
            var output = new byte[plaintext.Length];
            for (var i = 0; i < 2000; i++)
            {
                var id = new TxId(1 + t, 1 + i);
                plaintext[i % plaintext.Length] = (byte)i;
                var (cipher, tag) = Encrypt(_secret, id, plaintext, [(byte)t]);
                try
                {
                    if (!_secret.TryDecrypt(id, cipher, tag, output, [(byte)t]) || !output.AsSpan().SequenceEqual(plaintext))
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (CryptographicException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Save_writes_64_hex_digits_owner_only_and_load_reads_them_back()
    {
        var path = Path.Combine(_directory, "ledger.secret");
        _secret.Save(path);
        Assert.Equal(Convert.ToHexStringLower(SecretBytes), File.ReadAllText(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        using var loaded = LedgerSecret.Load(path);
        Assert.Equal(_secret.CommitEvidence(new TxId(1, 1)), loaded.CommitEvidence(new TxId(1, 1)));
        Assert.Throws<IOException>(() => _secret.Save(path)); // never overwrites a secret
    }

    [Theory]
    [InlineData("raw")]
    [InlineData("hex")]
    [InlineData("HEX")]
    [InlineData("hex-with-whitespace")]
    public void Load_accepts_raw_bytes_and_hex(string form)
    {
        var path = Path.Combine(_directory, form);
        var hex = Convert.ToHexStringLower(SecretBytes);
        switch (form)
        {
            case "raw": File.WriteAllBytes(path, SecretBytes); break;
            case "hex": File.WriteAllText(path, hex); break;
            case "HEX": File.WriteAllText(path, hex.ToUpperInvariant()); break;
            default: File.WriteAllText(path, "  \n" + hex + "\r\n\t"); break;
        }

        using var loaded = LedgerSecret.Load(path);
        Assert.Equal(_secret.CommitEvidence(new TxId(4, 4)), loaded.CommitEvidence(new TxId(4, 4)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    public void Load_rejects_a_file_of_the_wrong_size_or_content(int length)
    {
        // Raw bytes that are not 32 long, and 64 bytes that are not hex digits.
        var path = Path.Combine(_directory, $"bad-{length}");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0xAB, length).ToArray());
        Assert.Throws<InvalidDataException>(() => LedgerSecret.Load(path));

        File.WriteAllText(path, new string('a', 62) + "zz");
        Assert.Throws<InvalidDataException>(() => LedgerSecret.Load(path));
        File.WriteAllText(path, new string('a', 62));
        Assert.Throws<InvalidDataException>(() => LedgerSecret.Load(path));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(64)]
    public void Constructor_rejects_wrong_sizes(int length) =>
        Assert.Throws<ArgumentException>(() => new LedgerSecret(new byte[length]));
}
