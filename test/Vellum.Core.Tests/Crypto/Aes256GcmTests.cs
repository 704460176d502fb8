using System.Security.Cryptography;
using Vellum.Core.Crypto;

namespace Vellum.Core.Tests.Crypto;

public sealed class Aes256GcmTests
{
    // The GCM specification's test cases 15 and 16 (AES-256), as in NIST's validation suite.
    private const string SpecKey = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    private const string SpecNonce = "cafebabefacedbaddecaf888";
    private const string SpecPlaintext =
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

    [Fact]
    public void Calls_OpenSSL_directly_on_Linux()
    {
        // Seals and Private entries are meant to skip .NET's per-call set-up where OpenSSL 3 is there (always on the
        // Linux machines this runs on); a silent fall back to .NET would only show as a slower node.
        Assert.Equal(OperatingSystem.IsLinux(), Aes256Gcm.Direct);
    }

    [Theory]
    [InlineData(
        SpecPlaintext + "1aafd255",
        "",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c")]
    [InlineData(
        SpecPlaintext,
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b")]
    public void Gives_the_specification_s_ciphertexts_and_tags(
        string plaintextHex, string associatedHex, string ciphertextHex, string tagHex)
    {
        using var aes = new Aes256Gcm(Convert.FromHexString(SpecKey));
        var nonce = Convert.FromHexString(SpecNonce);
        var plaintext = Convert.FromHexString(plaintextHex);
        var associated = Convert.FromHexString(associatedHex);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[Aes256Gcm.TagSize];

        aes.Encrypt(nonce, plaintext, ciphertext, tag, associated);
        Assert.Equal(ciphertextHex, Convert.ToHexStringLower(ciphertext));
        Assert.Equal(tagHex, Convert.ToHexStringLower(tag));

        var opened = new byte[plaintext.Length];
        Assert.True(aes.TryDecrypt(nonce, ciphertext, tag, opened, associated));
        Assert.Equal(plaintext, opened);
    }

    [Fact]
    public void Agrees_with_dotnet_at_every_length_around_the_block_and_for_a_large_batch()
    {
        var random = new Random(7);
        var key = new byte[Aes256Gcm.KeySize];
        random.NextBytes(key);
        using var aes = new Aes256Gcm(key);
        using var dotnet = new AesGcm(key, Aes256Gcm.TagSize);
        var lengths = Enumerable.Range(0, 70).Append(1000).Append(1 << 20);
        foreach (var length in lengths)
        {
            foreach (var associatedLength in (int[])[0, 4, 17])
            {
                var nonce = new byte[Aes256Gcm.NonceSize];
                var plaintext = new byte[length];
                var associated = new byte[associatedLength];
                random.NextBytes(nonce);
                random.NextBytes(plaintext);
                random.NextBytes(associated);

                var ciphertext = new byte[length];
                var tag = new byte[Aes256Gcm.TagSize];
                aes.Encrypt(nonce, plaintext, ciphertext, tag, associated);
                var expected = new byte[length];
                var expectedTag = new byte[Aes256Gcm.TagSize];
                dotnet.Encrypt(nonce, plaintext, expected, expectedTag, associated);
                Assert.Equal(expected, ciphertext);
                Assert.Equal(expectedTag, tag);

                var opened = new byte[length];
                Assert.True(aes.TryDecrypt(nonce, ciphertext, tag, opened, associated));
                Assert.Equal(plaintext, opened);
            }
        }
    }

    [Fact]
    public void Encrypts_and_decrypts_in_place()
    {
        using var aes = new Aes256Gcm(new byte[Aes256Gcm.KeySize]);
        var nonce = new byte[Aes256Gcm.NonceSize];
        var original = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        var buffer = original.ToArray();
        var tag = new byte[Aes256Gcm.TagSize];

        aes.Encrypt(nonce, buffer, buffer, tag, "aad"u8);
        Assert.NotEqual(original, buffer);
        Assert.True(aes.TryDecrypt(nonce, buffer, tag, buffer, "aad"u8));
        Assert.Equal(original, buffer);
    }

    [Fact]
    public void Refuses_an_altered_ciphertext_tag_nonce_associated_data_or_key_and_leaves_no_plaintext()
    {
        var key = RandomNumberGenerator.GetBytes(Aes256Gcm.KeySize);
        using var aes = new Aes256Gcm(key);
        var nonce = RandomNumberGenerator.GetBytes(Aes256Gcm.NonceSize);
        var plaintext = RandomNumberGenerator.GetBytes(64);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[Aes256Gcm.TagSize];
        aes.Encrypt(nonce, plaintext, ciphertext, tag, "header"u8);

        bool Opens(byte[] c, byte[] t, byte[] n, ReadOnlySpan<byte> associated, Aes256Gcm with)
        {
            var opened = new byte[c.Length];
            opened.AsSpan().Fill(0xee);
            var ok = with.TryDecrypt(n, c, t, opened, associated);
            if (!ok)
            {
                Assert.All(opened, b => Assert.Equal(0, b));
            }

            return ok;
        }

        Assert.True(Opens(ciphertext, tag, nonce, "header"u8, aes));
        Assert.False(Opens(Flipped(ciphertext, 10), tag, nonce, "header"u8, aes));
        Assert.False(Opens(ciphertext, Flipped(tag, 15), nonce, "header"u8, aes));
        Assert.False(Opens(ciphertext, tag, Flipped(nonce, 0), "header"u8, aes));
        Assert.False(Opens(ciphertext, tag, nonce, "headex"u8, aes));
        Assert.False(Opens(ciphertext, tag, nonce, default, aes));
        using var other = new Aes256Gcm(Flipped(key, 31));
        Assert.False(Opens(ciphertext, tag, nonce, "header"u8, other));

        // A refusal leaves the key usable.
        Assert.True(Opens(ciphertext, tag, nonce, "header"u8, aes));
    }

    [Fact]
    public async Task One_key_serves_threads_at_once()
    {
        var key = RandomNumberGenerator.GetBytes(Aes256Gcm.KeySize);
        using var aes = new Aes256Gcm(key);
        using var dotnet = new AesGcm(key, Aes256Gcm.TagSize);
        var dotnetLock = new Lock();
        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            var nonce = new byte[Aes256Gcm.NonceSize];
            var plaintext = new byte[200 + w];
            var ciphertext = new byte[plaintext.Length];
            var expected = new byte[plaintext.Length];
            var tag = new byte[Aes256Gcm.TagSize];
            var expectedTag = new byte[Aes256Gcm.TagSize];
            var opened = new byte[plaintext.Length];
            for (var i = 0; i < 2_000; i++)
            {
                BitConverter.TryWriteBytes(nonce, (w << 20) | i);
                plaintext.AsSpan().Fill((byte)i);
                aes.Encrypt(nonce, plaintext, ciphertext, tag);
                lock (dotnetLock)
                {
                    dotnet.Encrypt(nonce, plaintext, expected, expectedTag);
                }

                if (!ciphertext.AsSpan().SequenceEqual(expected) || !tag.AsSpan().SequenceEqual(expectedTag)
                    || !aes.TryDecrypt(nonce, ciphertext, tag, opened) || !opened.AsSpan().SequenceEqual(plaintext))
                {
                    return false;
                }
            }

            return true;
        }));

        Assert.All(await Task.WhenAll(workers), Assert.True);
    }

    [Fact]
    public void Refuses_wrong_sizes_partly_overlapping_buffers_and_use_after_dispose()
    {
        Assert.Equal("key", Assert.Throws<ArgumentException>(() => new Aes256Gcm(new byte[16])).ParamName);

        var aes = new Aes256Gcm(new byte[Aes256Gcm.KeySize]);
        var nonce = new byte[Aes256Gcm.NonceSize];
        var tag = new byte[Aes256Gcm.TagSize];
        var buffer = new byte[64];
        Assert.Equal("nonce", Assert.Throws<ArgumentException>(() => aes.Encrypt(new byte[8], buffer, new byte[64], tag)).ParamName);
        Assert.Equal("tag", Assert.Throws<ArgumentException>(() => aes.Encrypt(nonce, buffer, new byte[64], new byte[12])).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => aes.Encrypt(nonce, buffer, new byte[63], tag)).ParamName);
        var overlapping = Assert.Throws<ArgumentException>(() => aes.Encrypt(nonce, buffer.AsSpan(0, 32), buffer.AsSpan(1, 32), tag));
        Assert.Equal("output", overlapping.ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => aes.TryDecrypt(nonce, buffer, tag, new byte[65])).ParamName);

        aes.Dispose();
        Assert.Throws<ObjectDisposedException>(() => aes.Encrypt(nonce, buffer, new byte[64], tag));
        Assert.Throws<ObjectDisposedException>(() => aes.TryDecrypt(nonce, buffer, tag, new byte[64]));
        aes.Dispose();
    }

    private static byte[] Flipped(byte[] bytes, int index)
    {
        var copy = bytes.ToArray();
        copy[index] ^= 0x01;
        return copy;
    }
}
