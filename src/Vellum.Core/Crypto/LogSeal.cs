using System.Security.Cryptography;

namespace Vellum.Core.Crypto;

/// <summary>
/// Seals a ledger's batches for the consensus log (a single node's node log, a cluster's Raft log) under the ledger's
/// log key, so that no consensus log holds a ledger's transactions in clear, Public ledgers included, and destroying
/// the ledger's secret (from which the log key is derived, and which never enters any log) leaves every copy in every
/// log unreadable.
/// </summary>
/// <remarks>
/// <para>
/// A sealed batch is <c>"VSB1"</c>, the sealer's 16-byte salt, an 8-byte counter, the AES-256-GCM ciphertext of the
/// batch and its 16-byte tag. Each seal (one per sequencer, made when it starts) draws a random salt and encrypts under
/// its own key, HMAC-SHA256(log key, salt), with the counter (little-endian, then four zero bytes) as the nonce and the
/// magic as associated data: a nonce never repeats under a key, since a key belongs to one seal and its counter only
/// goes up, and no counter has to survive a restart or be shared between the members that seal for the same ledger in
/// turn. The log key is HKDF-SHA256 of the ledger secret (<see cref="LedgerSecret.DeriveKey"/>, purpose
/// <c>consensus-log</c>). Opening keeps the keys of the last few salts it met, so a batch costs one AES-GCM operation.
/// </para>
/// <para>
/// The magic cannot begin a batch in clear: a clear batch begins with a frame's 32-bit length, and "VSB1" read as one
/// is over 800 MB, far past a frame's largest body (4 MiB). Thread-safe.
/// </para>
/// </remarks>
public sealed class LogSeal : IDisposable
{
    /// <summary>Bytes a sealed batch adds to the batch.</summary>
    public const int Overhead = MagicSize + SaltSize + CounterSize + TagSize;

    private const int MagicSize = 4;
    private const int SaltSize = 16;
    private const int CounterSize = 8;
    private const int TagSize = Aes256Gcm.TagSize;
    private const int KeySize = Aes256Gcm.KeySize;
    private const int NonceSize = Aes256Gcm.NonceSize;
    private const int OpenKeysKept = 8;

    private static ReadOnlySpan<byte> Magic => "VSB1"u8;

    private readonly byte[] _logKey;
    private readonly byte[] _salt = RandomNumberGenerator.GetBytes(SaltSize);
    private readonly Lock _sealLock = new();
    private readonly Aes256Gcm _sealKey;
    private ulong _counter;

    // Keys for opening, by salt: usually one (this ledger's primary's), a few after failovers; the lock guards the list.
    private readonly Lock _openLock = new();
    private readonly List<(byte[] Salt, Aes256Gcm Key)> _openKeys = [];
    private bool _disposed;

    /// <summary>A seal for the ledger whose secret is <paramref name="secret"/>, with a salt of its own.</summary>
    public LogSeal(LedgerSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        _logKey = secret.DeriveKey("consensus-log");
        _sealKey = KeyFor(_salt);
    }

    /// <summary>Whether <paramref name="batch"/> is a sealed batch (begins with the magic), whichever ledger's.</summary>
    public static bool IsSealed(ReadOnlySpan<byte> batch) => batch.StartsWith(Magic);

    /// <summary>Seals <paramref name="batch"/>: a new array of <see cref="Overhead"/> more bytes.</summary>
    public byte[] Seal(ReadOnlySpan<byte> batch)
    {
        var sealedBatch = new byte[Overhead + batch.Length];
        var output = sealedBatch.AsSpan();
        Magic.CopyTo(output);
        _salt.CopyTo(output[MagicSize..]);
        Span<byte> nonce = stackalloc byte[NonceSize];
        nonce.Clear();
        lock (_sealLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var counter = ++_counter;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(output.Slice(MagicSize + SaltSize, CounterSize), counter);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(nonce, counter);
            _sealKey.Encrypt(nonce, batch, output.Slice(MagicSize + SaltSize + CounterSize, batch.Length), output[^TagSize..], Magic);
        }

        return sealedBatch;
    }

    /// <summary>
    /// Opens a batch a seal of this ledger made: the batch in clear, or false with why not (not sealed, cut short, or
    /// sealed under another ledger's key or altered: the two cannot be told apart).
    /// </summary>
    public bool TryOpen(
        ReadOnlySpan<byte> sealedBatch,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? batch,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        batch = null;
        if (!IsSealed(sealedBatch))
        {
            error = "the batch is not sealed";
            return false;
        }

        if (sealedBatch.Length < Overhead)
        {
            error = $"a sealed batch is at least {Overhead} bytes; this one is {sealedBatch.Length}";
            return false;
        }

        var salt = sealedBatch.Slice(MagicSize, SaltSize);
        Span<byte> nonce = stackalloc byte[NonceSize];
        nonce.Clear();
        sealedBatch.Slice(MagicSize + SaltSize, CounterSize).CopyTo(nonce);
        var plain = new byte[sealedBatch.Length - Overhead];
        bool opened;
        lock (_openLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var ciphertext = sealedBatch.Slice(MagicSize + SaltSize + CounterSize, plain.Length);
            opened = OpenKey(salt).TryDecrypt(nonce, ciphertext, sealedBatch[^TagSize..], plain, Magic);
        }

        if (!opened)
        {
            error = "the batch does not open with this ledger's log key (another ledger's, or altered)";
            return false;
        }

        batch = plain;
        error = null;
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_sealLock)
        {
            lock (_openLock)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _sealKey.Dispose();
                foreach (var (_, key) in _openKeys)
                {
                    key.Dispose();
                }

                _openKeys.Clear();
                CryptographicOperations.ZeroMemory(_logKey);
            }
        }
    }

    /// <summary>The key for <paramref name="salt"/>, kept among the last few used. Caller holds the open lock.</summary>
    private Aes256Gcm OpenKey(ReadOnlySpan<byte> salt)
    {
        for (var i = 0; i < _openKeys.Count; i++)
        {
            if (salt.SequenceEqual(_openKeys[i].Salt))
            {
                return _openKeys[i].Key;
            }
        }

        if (_openKeys.Count == OpenKeysKept)
        {
            _openKeys[0].Key.Dispose();
            _openKeys.RemoveAt(0);
        }

        var key = KeyFor(salt);
        _openKeys.Add((salt.ToArray(), key));
        return key;
    }

    private Aes256Gcm KeyFor(ReadOnlySpan<byte> salt)
    {
        Span<byte> key = stackalloc byte[KeySize];
        HMACSHA256.HashData(_logKey, salt, key);
        try
        {
            return new Aes256Gcm(key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }
}
