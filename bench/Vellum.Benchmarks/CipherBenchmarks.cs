using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Vellum.Core.Crypto;

namespace Vellum.Benchmarks;

/// <summary>
/// AES-256-GCM as the write path uses it, .NET's <see cref="AesGcm"/> against Vellum's <see cref="Aes256Gcm"/> (OpenSSL
/// directly, the key set up once in a context reused with each nonce): a Private entry's contents (300 bytes) and a
/// sealed batch of a hundred such entries (30,000 bytes), each sealed and opened.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class CipherBenchmarks
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(Aes256Gcm.KeySize);
    private readonly byte[] _nonce = new byte[Aes256Gcm.NonceSize];
    private readonly byte[] _tag = new byte[Aes256Gcm.TagSize];
    private byte[] _plaintext = [];
    private byte[] _ciphertext = [];
    private byte[] _opened = [];
    private AesGcm _dotnet = null!;
    private Aes256Gcm _vellum = null!;

    [Params(300, 30_000)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _plaintext = RandomNumberGenerator.GetBytes(Size);
        _ciphertext = new byte[Size];
        _opened = new byte[Size];
        _dotnet = new AesGcm(_key, Aes256Gcm.TagSize);
        _vellum = new Aes256Gcm(_key);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dotnet.Dispose();
        _vellum.Dispose();
    }

    [Benchmark(Baseline = true)]
    public byte DotNet_SealAndOpen()
    {
        _dotnet.Encrypt(_nonce, _plaintext, _ciphertext, _tag, "VSB1"u8);
        _dotnet.Decrypt(_nonce, _ciphertext, _tag, _opened, "VSB1"u8);
        return _opened[0];
    }

    [Benchmark]
    public byte Vellum_SealAndOpen()
    {
        _vellum.Encrypt(_nonce, _plaintext, _ciphertext, _tag, "VSB1"u8);
        return _vellum.TryDecrypt(_nonce, _ciphertext, _tag, _opened, "VSB1"u8) ? _opened[0] : throw new CryptographicException();
    }
}
