using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Vellum.Core.Primitives;

namespace Vellum.Core.Crypto;

/// <summary>
/// The per-ledger secret: 32 random bytes from which two independent keys are derived with HKDF-SHA256:
/// the commit-evidence key (so commit evidence is unpredictable before a transaction commits) and the
/// entry-encryption key (AES-256-GCM over a Private ledger's contents). The raw secret never enters the ledger.
/// </summary>
public sealed class LedgerSecret : IDisposable
{
    /// <summary>Bytes in a ledger secret.</summary>
    public const int Size = 32;

    /// <summary>Bytes in an AES-GCM tag.</summary>
    public const int TagSize = Aes256Gcm.TagSize;

    /// <summary>Bytes in an AES-GCM nonce.</summary>
    public const int NonceSize = Aes256Gcm.NonceSize;

    private static readonly byte[] CommitEvidenceInfo = "vellum/v1/commit-evidence"u8.ToArray();
    private static readonly byte[] EntryKeyInfo = "vellum/v1/entry-encryption"u8.ToArray();

    private readonly byte[] _secret;
    private readonly HmacSha256 _commitEvidenceMac;

    // Thread-safe: the sequencer encrypts under its lock while readers decrypt on request threads.
    private readonly Aes256Gcm _aes;

    /// <summary>Wraps an existing 32-byte secret.</summary>
    public LedgerSecret(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != Size)
        {
            throw new ArgumentException($"A ledger secret is {Size} bytes, not {secret.Length}.", nameof(secret));
        }

        _secret = secret.ToArray();
        var commitEvidenceKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, _secret, Size, salt: null, info: CommitEvidenceInfo);
        _commitEvidenceMac = new HmacSha256(commitEvidenceKey);
        CryptographicOperations.ZeroMemory(commitEvidenceKey);
        var entryKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, _secret, Size, salt: null, info: EntryKeyInfo);
        _aes = new Aes256Gcm(entryKey);
        CryptographicOperations.ZeroMemory(entryKey);
    }

    /// <summary>Draws a new secret from the operating system's CSPRNG.</summary>
    public static LedgerSecret Generate() => new(RandomNumberGenerator.GetBytes(Size));

    /// <summary>
    /// A further 32-byte key for <paramref name="purpose"/> (HKDF-SHA256 with the purpose as info), independent of the
    /// entry and commit-evidence keys; for example the key that authenticates join tokens.
    /// </summary>
    public byte[] DeriveKey(string purpose)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        return HKDF.DeriveKey(HashAlgorithmName.SHA256, _secret, Size, salt: null, info: System.Text.Encoding.UTF8.GetBytes("vellum " + purpose));
    }

    /// <summary>Reads a secret file: exactly 32 raw bytes, or 64 hex digits (whitespace around them ignored).</summary>
    public static LedgerSecret Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == Size)
        {
            return new LedgerSecret(bytes);
        }

        var text = Encoding.ASCII.GetString(bytes).Trim();
        if (text.Length == 2 * Size)
        {
            try
            {
                return new LedgerSecret(Convert.FromHexString(text));
            }
            catch (FormatException)
            {
            }
        }

        throw new InvalidDataException($"{path}: a ledger secret file holds 32 raw bytes or 64 hex digits.");
    }

    /// <summary>Writes the secret as 64 hex digits to a new file readable only by its owner.</summary>
    public void Save(string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexStringLower(_secret)));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// The 32-byte commit-evidence nonce of a transaction: HMAC-SHA256(commit-evidence key, ASCII "view.seqno").
    /// Deterministic, so it need not be stored; unpredictable without the secret, so a receipt cannot be forged
    /// for a transaction the service has not revealed as committed.
    /// </summary>
    public void CommitEvidenceNonce(TxId id, Span<byte> destination)
    {
        Span<char> chars = stackalloc char[TxId.MaxLength];
        id.TryFormat(chars, out var written, default, null);
        Span<byte> ascii = stackalloc byte[TxId.MaxLength];
        var length = Encoding.ASCII.GetBytes(chars[..written], ascii);
        _commitEvidenceMac.Compute(ascii[..length], destination);
    }

    /// <summary>The commit evidence string <c>ce:{view}.{seqno}:{64 hex}</c>.</summary>
    public string CommitEvidence(TxId id)
    {
        Span<byte> nonce = stackalloc byte[32];
        CommitEvidenceNonce(id, nonce);
        return string.Concat("ce:", id.ToString(), ":", Convert.ToHexStringLower(nonce));
    }

    /// <summary>SHA-256 of the commit evidence string, the value stored in the ledger.</summary>
    public Hash32 CommitEvidenceDigest(TxId id)
    {
        // "ce:" + id + ":" + 64 hex: at most 3 + 39 + 1 + 64 bytes, built without allocating.
        Span<byte> text = stackalloc byte[3 + TxId.MaxLength + 1 + 64];
        "ce:"u8.CopyTo(text);
        Span<char> chars = stackalloc char[TxId.MaxLength];
        id.TryFormat(chars, out var written, default, null);
        var length = 3 + Encoding.ASCII.GetBytes(chars[..written], text[3..]);

        // The nonce is the MAC of the ASCII id just written: taken from here rather than formatted again.
        Span<byte> nonce = stackalloc byte[HmacSha256.Size];
        _commitEvidenceMac.Compute(text[3..length], nonce);
        text[length++] = (byte)':';
        for (var i = 0; i < nonce.Length; i++)
        {
            text[length++] = HexLower(nonce[i] >> 4);
            text[length++] = HexLower(nonce[i] & 0xF);
        }

        return Hash32.Compute(text[..length]);
    }

    /// <summary>
    /// The AES-GCM nonce of a transaction: seqno (u64 LE) ‖ view (u32 LE). See docs/ledger-format.md for why it never
    /// repeats under one key.
    /// </summary>
    public static void EntryNonce(TxId id, Span<byte> nonce)
    {
        if (id.View > uint.MaxValue)
        {
            throw new InvalidOperationException($"View {id.View} does not fit the 32-bit view field of the encryption nonce.");
        }

        BinaryPrimitives.WriteInt64LittleEndian(nonce, id.Seqno);
        BinaryPrimitives.WriteUInt32LittleEndian(nonce[8..], (uint)id.View);
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> and writes the tag.</summary>
    public void Encrypt(TxId id, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> nonce = stackalloc byte[NonceSize];
        EntryNonce(id, nonce);
        _aes.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
    }

    /// <summary>Decrypts and authenticates; false when the tag does not match (wrong key or altered bytes).</summary>
    public bool TryDecrypt(TxId id, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        if (id.View > uint.MaxValue || id.View <= 0)
        {
            return false;
        }

        Span<byte> nonce = stackalloc byte[NonceSize];
        EntryNonce(id, nonce);
        return _aes.TryDecrypt(nonce, ciphertext, tag, plaintext, associatedData);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_secret);
        _commitEvidenceMac.Dispose();
        _aes.Dispose();
    }

    private static byte HexLower(int nibble) => (byte)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
}
