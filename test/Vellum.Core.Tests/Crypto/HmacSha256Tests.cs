using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Crypto;

namespace Vellum.Core.Tests.Crypto;

public sealed class HmacSha256Tests
{
    [Theory]
    // RFC 4231 test cases 1, 2 and 3.
    [InlineData(
        "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        "4869205468657265",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData(
        "4a656665",
        "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")]
    [InlineData(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")]
    public void Gives_the_RFC_4231_MACs(string keyHex, string dataHex, string macHex)
    {
        using var hmac = new HmacSha256(Convert.FromHexString(keyHex));
        var mac = new byte[HmacSha256.Size];
        hmac.Compute(Convert.FromHexString(dataHex), mac);
        Assert.Equal(macHex, Convert.ToHexStringLower(mac));
    }

    [Fact]
    public void Hashes_a_key_longer_than_a_block_first()
    {
        // RFC 4231 test case 6: a 131-byte key.
        using var hmac = new HmacSha256(Enumerable.Repeat((byte)0xaa, 131).ToArray());
        var mac = new byte[HmacSha256.Size];
        hmac.Compute("Test Using Larger Than Block-Size Key - Hash Key First"u8, mac);
        Assert.Equal("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", Convert.ToHexStringLower(mac));
    }

    [Fact]
    public void Agrees_with_dotnet_for_keys_and_messages_of_every_length_around_a_block()
    {
        var random = new Random(11);
        var mac = new byte[HmacSha256.Size];
        foreach (var keyLength in (int[])[0, 1, 32, 63, 64, 65, 200])
        {
            var key = new byte[keyLength];
            random.NextBytes(key);
            using var hmac = new HmacSha256(key);
            for (var length = 0; length <= 130; length++)
            {
                var data = new byte[length];
                random.NextBytes(data);
                hmac.Compute(data, mac);
                Assert.Equal(HMACSHA256.HashData(key, data), mac);
            }
        }
    }

    [Fact]
    public async Task One_key_serves_threads_at_once()
    {
        var key = Encoding.ASCII.GetBytes("commit evidence key");
        using var hmac = new HmacSha256(key);
        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            var mac = new byte[HmacSha256.Size];
            for (var i = 0; i < 5_000; i++)
            {
                var data = Encoding.ASCII.GetBytes($"{w}.{i}");
                hmac.Compute(data, mac);
                if (!mac.AsSpan().SequenceEqual(HMACSHA256.HashData(key, data)))
                {
                    return false;
                }
            }

            return true;
        }));

        Assert.All(await Task.WhenAll(workers), Assert.True);
    }

    [Fact]
    public void Refuses_a_short_destination_and_use_after_dispose()
    {
        var hmac = new HmacSha256("key"u8);
        var error = Assert.Throws<ArgumentException>(() => hmac.Compute("data"u8, new byte[31]));
        Assert.Equal("destination", error.ParamName);

        hmac.Dispose();
        Assert.Throws<ObjectDisposedException>(() => hmac.Compute("data"u8, new byte[32]));
    }
}
