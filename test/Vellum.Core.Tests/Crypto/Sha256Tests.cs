using System.Security.Cryptography;
using Vellum.Core.Primitives;
using Sha256 = Vellum.Core.Crypto.Sha256;

namespace Vellum.Core.Tests.Crypto;

public sealed class Sha256Tests
{
    [Fact]
    public void Calls_OpenSSL_directly_on_Linux()
    {
        // The write path's digests are meant to skip .NET's per-call overhead where OpenSSL 3 is there (always on the
        // Linux machines this runs on); a silent fall back to .NET would only show as a slower node.
        Assert.Equal(OperatingSystem.IsLinux(), Sha256.Direct);
    }

    [Fact]
    public void Gives_the_standard_digests()
    {
        // FIPS 180-2 examples.
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hex("abc"u8));
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hex([]));
        Assert.Equal(
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"u8));
    }

    [Fact]
    public void Agrees_with_dotnet_at_every_length_around_the_block_boundaries()
    {
        var random = new Random(7);
        var data = new byte[(3 * 64) + 9];
        random.NextBytes(data);
        Span<byte> actual = stackalloc byte[Sha256.Size];
        for (var length = 0; length <= data.Length; length++)
        {
            Sha256.HashData(data.AsSpan(0, length), actual);
            Assert.Equal(SHA256.HashData(data.AsSpan(0, length)), actual.ToArray());
        }

        var large = new byte[(1 << 20) + 3];
        random.NextBytes(large);
        Sha256.HashData(large, actual);
        Assert.Equal(SHA256.HashData(large), actual.ToArray());
    }

    [Fact]
    public async Task Threads_hashing_at_once_get_their_own_digests()
    {
        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            var data = new byte[100 + w];
            var digest = new byte[Sha256.Size];
            for (var i = 0; i < 5_000; i++)
            {
                data[i % data.Length] ^= (byte)(w + i);
                Sha256.HashData(data, digest);
                if (!digest.AsSpan().SequenceEqual(SHA256.HashData(data)))
                {
                    return false;
                }
            }

            return true;
        }));

        Assert.All(await Task.WhenAll(workers), Assert.True);
    }

    [Fact]
    public void Writes_only_the_digest_and_refuses_a_short_destination()
    {
        var destination = Enumerable.Repeat((byte)0xEE, 40).ToArray();
        Sha256.HashData("abc"u8, destination);
        Assert.Equal(SHA256.HashData("abc"u8), destination[..32]);
        Assert.All(destination[32..], b => Assert.Equal(0xEE, b));

        var error = Assert.Throws<ArgumentException>(() => Sha256.HashData("abc"u8, new byte[31]));
        Assert.Equal("destination", error.ParamName);
    }

    [Fact]
    public void Hash32_uses_it()
    {
        var left = Hash32.Compute("left"u8);
        var right = Hash32.Compute("right"u8);
        Assert.Equal(new Hash32(SHA256.HashData("left"u8)), left);
        Assert.Equal(new Hash32(SHA256.HashData([.. left.ToArray(), .. right.ToArray()])), Hash32.Combine(left, right));
    }

    private static string Hex(ReadOnlySpan<byte> data)
    {
        Span<byte> digest = stackalloc byte[Sha256.Size];
        Sha256.HashData(data, digest);
        return Convert.ToHexStringLower(digest);
    }
}
