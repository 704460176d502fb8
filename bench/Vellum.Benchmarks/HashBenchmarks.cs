using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Vellum.Core.Crypto;

namespace Vellum.Benchmarks;

/// <summary>
/// The write path's small hashes, .NET's one-shot calls against Vellum's (OpenSSL directly, a digest context per
/// thread, an HMAC key's pads absorbed once): a Merkle node (64 bytes), a leaf body (364 bytes, a 256-byte entry
/// encoded) and the commit evidence MAC (an ASCII transaction id).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class HashBenchmarks
{
    private readonly byte[] _digest = new byte[32];
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private byte[] _input = [];
    private HmacSha256 _hmac = null!;

    [Params(64, 364)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _input = RandomNumberGenerator.GetBytes(Size);
        _hmac = new HmacSha256(_key);
    }

    [GlobalCleanup]
    public void Cleanup() => _hmac.Dispose();

    [Benchmark(Baseline = true)]
    public int DotNet_SHA256() => SHA256.HashData(_input, _digest);

    [Benchmark]
    public byte Vellum_Sha256()
    {
        Sha256.HashData(_input, _digest);
        return _digest[0];
    }

    [Benchmark]
    public int DotNet_HMACSHA256() => HMACSHA256.HashData(_key, _input.AsSpan(0, 12), _digest);

    [Benchmark]
    public byte Vellum_HmacSha256()
    {
        _hmac.Compute(_input.AsSpan(0, 12), _digest);
        return _digest[0];
    }
}
