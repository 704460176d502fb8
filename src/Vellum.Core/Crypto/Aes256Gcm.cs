using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Vellum.Core.Crypto;

/// <summary>
/// AES-256-GCM under one key (a 12-byte nonce, a 16-byte tag), for keys used on every batch or transaction: the log key
/// of a <see cref="LogSeal"/> and a Private ledger's entry key. With OpenSSL 3 directly (the library .NET itself uses on
/// Linux) the cipher is fetched once and the key is set up once in a context that every operation reuses with a new
/// nonce, where .NET's <see cref="AesGcm"/> sets the context up again and clears OpenSSL's error queue on each call
/// (sealing and opening 300 bytes 1,622 ns against 621 ns on the benchmark machine, docs/benchmarks.md). Where the
/// library is missing, or it does not reproduce .NET's output for known inputs, <see cref="AesGcm"/> does the work.
/// </summary>
/// <remarks>Thread-safe: operations on one key take turns (a context holds one operation's state).</remarks>
public sealed class Aes256Gcm : IDisposable
{
    /// <summary>Bytes in a key.</summary>
    public const int KeySize = 32;

    /// <summary>Bytes in a nonce.</summary>
    public const int NonceSize = 12;

    /// <summary>Bytes in a tag.</summary>
    public const int TagSize = 16;

    private const int GetTagControl = 0x10;
    private const int SetTagControl = 0x11;

    private readonly Lock _lock = new();
    private readonly CipherContext? _context;
    private readonly AesGcm? _fallback;
    private bool _disposed;

    /// <summary>A cipher under <paramref name="key"/> (32 bytes).</summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not 32 bytes.</exception>
    public Aes256Gcm(ReadOnlySpan<byte> key)
        : this(key, Cipher)
    {
    }

    private Aes256Gcm(ReadOnlySpan<byte> key, IntPtr cipher)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"An AES-256 key is {KeySize} bytes, not {key.Length}.", nameof(key));
        }

        if (cipher == IntPtr.Zero)
        {
            _fallback = new AesGcm(key, TagSize);
            return;
        }

        _context = CipherContext.Create();
        if (NativeMethods.EVP_CipherInit_ex2(
                _context.DangerousGetHandle(), cipher, ref MemoryMarshal.GetReference(key), ref Unsafe.NullRef<byte>(), 1, IntPtr.Zero)
            != 1)
        {
            _context.Dispose();
            throw Failed();
        }
    }

    /// <summary>Whether operations go to OpenSSL directly (else to .NET's <see cref="AesGcm"/>).</summary>
    public static bool Direct => Cipher != IntPtr.Zero;

    /// <summary>The fetched AES-256-GCM (an <c>EVP_CIPHER</c>, never freed); zero when OpenSSL is not used.</summary>
    private static IntPtr Cipher { get; } = Probe();

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> (the same length; the same span is allowed)
    /// and writes the tag, which covers <paramref name="associatedData"/> too.
    /// </summary>
    /// <exception cref="ArgumentException">A nonce, tag or ciphertext of the wrong length, or buffers that partly overlap.</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public void Encrypt(
        ReadOnlySpan<byte> nonce,
        ReadOnlySpan<byte> plaintext,
        Span<byte> ciphertext,
        Span<byte> tag,
        ReadOnlySpan<byte> associatedData = default)
    {
        CheckArguments(nonce, plaintext, ciphertext, tag);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_fallback is not null)
            {
                _fallback.Encrypt(nonce, plaintext, ciphertext, tag, associatedData);
                return;
            }

            var context = _context!.DangerousGetHandle();
            if (!Begin(context, nonce, encrypt: true, associatedData)
                || !Transform(context, plaintext, ciphertext)
                || !End(context)
                || NativeMethods.EVP_CIPHER_CTX_ctrl(context, GetTagControl, TagSize, ref MemoryMarshal.GetReference(tag)) != 1)
            {
                throw Failed();
            }
        }
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> into <paramref name="plaintext"/> (the same length; the same span is allowed)
    /// if <paramref name="tag"/> authenticates it and <paramref name="associatedData"/>; otherwise returns false and
    /// leaves <paramref name="plaintext"/> zeroed (wrong key, or altered bytes: the two cannot be told apart).
    /// </summary>
    /// <exception cref="ArgumentException">A nonce, tag or plaintext of the wrong length, or buffers that partly overlap.</exception>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public bool TryDecrypt(
        ReadOnlySpan<byte> nonce,
        ReadOnlySpan<byte> ciphertext,
        ReadOnlySpan<byte> tag,
        Span<byte> plaintext,
        ReadOnlySpan<byte> associatedData = default)
    {
        CheckArguments(nonce, ciphertext, plaintext, tag);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_fallback is not null)
            {
                try
                {
                    _fallback.Decrypt(nonce, ciphertext, tag, plaintext, associatedData);
                    return true;
                }
                catch (AuthenticationTagMismatchException)
                {
                    return false;
                }
            }

            var context = _context!.DangerousGetHandle();
            if (!Begin(context, nonce, encrypt: false, associatedData)
                || NativeMethods.EVP_CIPHER_CTX_ctrl(context, SetTagControl, TagSize, ref MemoryMarshal.GetReference(tag)) != 1
                || !Transform(context, ciphertext, plaintext))
            {
                throw Failed();
            }

            if (End(context))
            {
                return true;
            }

            // The tag did not match: nothing of the unauthenticated plaintext is left behind.
            OpenSsl.ClearErrors();
            CryptographicOperations.ZeroMemory(plaintext);
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // EVP_CIPHER_CTX_free clears the key schedule.
            _context?.Dispose();
            _fallback?.Dispose();
        }
    }

    private static void CheckArguments(
        ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output, ReadOnlySpan<byte> tag)
    {
        if (nonce.Length != NonceSize)
        {
            throw new ArgumentException($"An AES-GCM nonce here is {NonceSize} bytes, not {nonce.Length}.", nameof(nonce));
        }

        if (tag.Length != TagSize)
        {
            throw new ArgumentException($"An AES-GCM tag here is {TagSize} bytes, not {tag.Length}.", nameof(tag));
        }

        if (output.Length != input.Length)
        {
            throw new ArgumentException($"The output is {output.Length} bytes; the input is {input.Length}.", nameof(output));
        }

        if (input.Overlaps(output, out var offset) && offset != 0)
        {
            throw new ArgumentException("The input and the output overlap without being the same bytes.", nameof(output));
        }
    }

    /// <summary>Starts an operation on <paramref name="context"/> (its key kept) with a new nonce, and feeds the associated data.</summary>
    private static bool Begin(IntPtr context, ReadOnlySpan<byte> nonce, bool encrypt, ReadOnlySpan<byte> associatedData)
    {
        if (NativeMethods.EVP_CipherInit_ex2(
                context, IntPtr.Zero, ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(nonce), encrypt ? 1 : 0, IntPtr.Zero) != 1)
        {
            return false;
        }

        var written = 0;
        return associatedData.IsEmpty
            || NativeMethods.EVP_CipherUpdate(
                context, ref Unsafe.NullRef<byte>(), ref written, ref MemoryMarshal.GetReference(associatedData), associatedData.Length)
            == 1;
    }

    private static bool Transform(IntPtr context, ReadOnlySpan<byte> input, Span<byte> output)
    {
        // GCM is a stream mode: OpenSSL writes exactly as many bytes as it reads.
        var written = 0;
        return input.IsEmpty
            || (NativeMethods.EVP_CipherUpdate(
                    context, ref MemoryMarshal.GetReference(output), ref written, ref MemoryMarshal.GetReference(input), input.Length) == 1
                && written == input.Length);
    }

    /// <summary>Ends an operation: makes the tag when encrypting, checks the one set when decrypting (false if it differs).</summary>
    private static bool End(IntPtr context)
    {
        // GCM writes nothing here; the buffer is only for the signature's sake.
        byte none = 0;
        var written = 0;
        return NativeMethods.EVP_CipherFinal_ex(context, ref none, ref written) == 1 && written == 0;
    }

    private static CryptographicException Failed()
    {
        OpenSsl.ClearErrors();
        return new CryptographicException("OpenSSL's AES-256-GCM failed.");
    }

    private static IntPtr Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return IntPtr.Zero;
        }

        try
        {
            var cipher = NativeMethods.EVP_CIPHER_fetch(IntPtr.Zero, "AES-256-GCM\0"u8.ToArray(), IntPtr.Zero);
            if (cipher == IntPtr.Zero)
            {
                OpenSsl.ClearErrors();
                return IntPtr.Zero;
            }

            // Lengths below, at and past a block, with and without associated data: each must be .NET's ciphertext and
            // tag, must open again, and must not open once a bit of it changes.
            var key = new byte[KeySize];
            var nonce = new byte[NonceSize];
            var input = new byte[100];
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = (byte)(i * 31);
            }

            key.AsSpan().Fill(0x5a);
            nonce.AsSpan().Fill(0xa5);
            using var direct = new Aes256Gcm(key, cipher);
            using var dotnet = new AesGcm(key, TagSize);
            foreach (var (length, associated) in (ReadOnlySpan<(int, int)>)[(0, 0), (5, 4), (16, 0), (100, 13)])
            {
                var plaintext = input.AsSpan(0, length);
                var associatedData = input.AsSpan(input.Length - associated);
                var expected = new byte[length + TagSize];
                var actual = new byte[length + TagSize];
                dotnet.Encrypt(nonce, plaintext, expected.AsSpan(0, length), expected.AsSpan(length), associatedData);
                direct.Encrypt(nonce, plaintext, actual.AsSpan(0, length), actual.AsSpan(length), associatedData);
                var opened = new byte[length];
                if (!actual.AsSpan().SequenceEqual(expected)
                    || !direct.TryDecrypt(nonce, actual.AsSpan(0, length), actual.AsSpan(length), opened, associatedData)
                    || !opened.AsSpan().SequenceEqual(plaintext))
                {
                    return IntPtr.Zero;
                }

                actual[^1] ^= 1;
                if (direct.TryDecrypt(nonce, actual.AsSpan(0, length), actual.AsSpan(length), opened, associatedData))
                {
                    return IntPtr.Zero;
                }
            }

            return cipher;
        }
        catch (Exception ex)
            when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or CryptographicException)
        {
            return IntPtr.Zero;
        }
    }

    /// <summary>An <c>EVP_CIPHER_CTX</c>; freed (OpenSSL clears it) when disposed.</summary>
    private sealed class CipherContext : SafeHandle
    {
        public CipherContext()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        public static CipherContext Create()
        {
            var context = new CipherContext();
            context.SetHandle(NativeMethods.EVP_CIPHER_CTX_new());
            return context.IsInvalid ? throw new CryptographicException("OpenSSL could not make a cipher context.") : context;
        }

        protected override bool ReleaseHandle()
        {
            NativeMethods.EVP_CIPHER_CTX_free(handle);
            return true;
        }
    }

    private static class NativeMethods
    {
        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EVP_CIPHER_fetch(IntPtr libraryContext, byte[] algorithm, IntPtr properties);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EVP_CIPHER_CTX_new();

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void EVP_CIPHER_CTX_free(IntPtr context);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_CipherInit_ex2(
            IntPtr context, IntPtr cipher, ref byte key, ref byte nonce, int encrypt, IntPtr parameters);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_CipherUpdate(IntPtr context, ref byte output, ref int written, ref byte input, int length);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_CipherFinal_ex(IntPtr context, ref byte output, ref int written);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_CIPHER_CTX_ctrl(IntPtr context, int control, int argument, ref byte pointer);
    }
}
