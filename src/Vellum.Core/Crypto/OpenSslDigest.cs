using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Vellum.Core.Crypto;

/// <summary>
/// SHA-256 straight from the OpenSSL 3 library that .NET itself uses on Linux, for <see cref="Sha256"/> and
/// <see cref="HmacSha256"/>: the algorithm fetched once and one digest context per thread, where .NET's one-shot calls
/// make a context, fetch the algorithm and clear OpenSSL's error queue every time (433 ns against 140 ns for a 64-byte
/// input on the benchmark machine, docs/benchmarks.md). Same library, same provider, same function; where the
/// library is missing, or its digests of a few known inputs are not .NET's, <see cref="Algorithm"/> is zero and the
/// callers use .NET.
/// </summary>
internal static class OpenSslDigest
{
    /// <summary>Bytes in a SHA-256 digest.</summary>
    public const int Size = 32;

    /// <summary>Bytes in a SHA-256 block (HMAC's key pad).</summary>
    public const int BlockSize = 64;


    [ThreadStatic]
    private static DigestContext? _scratch;

    /// <summary>The fetched SHA-256 (an <c>EVP_MD</c>, never freed); zero when OpenSSL is not used.</summary>
    public static IntPtr Algorithm { get; } = Probe();

    /// <summary>This thread's digest context, for a digest computed start to end without yielding the thread.</summary>
    private static IntPtr Scratch => (_scratch ??= DigestContext.Create()).DangerousGetHandle();

    /// <summary>SHA-256 of <paramref name="data"/> into the first 32 bytes of <paramref name="destination"/> (at least 32).</summary>
    public static void Hash(IntPtr algorithm, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var context = Scratch;
        if (NativeMethods.EVP_DigestInit_ex2(context, algorithm, IntPtr.Zero) != 1
            || NativeMethods.EVP_DigestUpdate(context, ref MemoryMarshal.GetReference(data), (nuint)data.Length) != 1)
        {
            throw Failed();
        }

        Finish(context, destination);
    }

    /// <summary>A new context that has absorbed <paramref name="prefix"/>: HMAC's inner or outer state for one key.</summary>
    public static DigestContext Absorbed(ReadOnlySpan<byte> prefix)
    {
        var context = DigestContext.Create();
        var handle = context.DangerousGetHandle();
        if (NativeMethods.EVP_DigestInit_ex2(handle, Algorithm, IntPtr.Zero) != 1
            || NativeMethods.EVP_DigestUpdate(handle, ref MemoryMarshal.GetReference(prefix), (nuint)prefix.Length) != 1)
        {
            context.Dispose();
            throw Failed();
        }

        return context;
    }

    /// <summary>
    /// Continues from <paramref name="state"/> (a context made by <see cref="Absorbed"/>, left as it is) with
    /// <paramref name="data"/>, into the first 32 bytes of <paramref name="destination"/> (at least 32).
    /// </summary>
    public static void HashFrom(DigestContext state, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var context = Scratch;
        var added = false;
        try
        {
            // Held while OpenSSL reads it, so that a dispose on another thread cannot free it under the copy.
            state.DangerousAddRef(ref added);
            if (NativeMethods.EVP_MD_CTX_copy_ex(context, state.DangerousGetHandle()) != 1)
            {
                throw Failed();
            }
        }
        finally
        {
            if (added)
            {
                state.DangerousRelease();
            }
        }

        if (NativeMethods.EVP_DigestUpdate(context, ref MemoryMarshal.GetReference(data), (nuint)data.Length) != 1)
        {
            throw Failed();
        }

        Finish(context, destination);
    }

    private static void Finish(IntPtr context, Span<byte> destination)
    {
        uint length = 0;
        if (NativeMethods.EVP_DigestFinal_ex(context, ref MemoryMarshal.GetReference(destination), ref length) != 1 || length != Size)
        {
            throw Failed();
        }
    }

    private static CryptographicException Failed()
    {
        OpenSsl.ClearErrors();
        return new CryptographicException("OpenSSL's SHA-256 failed.");
    }

    private static IntPtr Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return IntPtr.Zero;
        }

        try
        {
            var algorithm = NativeMethods.EVP_MD_fetch(IntPtr.Zero, "SHA256\0"u8.ToArray(), IntPtr.Zero);
            if (algorithm == IntPtr.Zero)
            {
                OpenSsl.ClearErrors();
                return IntPtr.Zero;
            }

            // The empty input, less than a block, exactly one, and many: each must be .NET's digest.
            Span<byte> expected = stackalloc byte[Size];
            Span<byte> actual = stackalloc byte[Size];
            var input = new byte[1000];
            for (var i = 0; i < input.Length; i++)
            {
                input[i] = (byte)(i * 31);
            }

            foreach (var length in (ReadOnlySpan<int>)[0, 3, BlockSize, 1000])
            {
                SHA256.HashData(input.AsSpan(0, length), expected);
                Hash(algorithm, input.AsSpan(0, length), actual);
                if (!actual.SequenceEqual(expected))
                {
                    return IntPtr.Zero;
                }
            }

            return algorithm;
        }
        catch (Exception ex)
            when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or CryptographicException)
        {
            return IntPtr.Zero;
        }
    }

    /// <summary>An <c>EVP_MD_CTX</c>; freed (OpenSSL clears it) when disposed, or when nothing holds it any more.</summary>
    internal sealed class DigestContext : SafeHandle
    {
        public DigestContext()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        public static DigestContext Create()
        {
            var context = new DigestContext();
            context.SetHandle(NativeMethods.EVP_MD_CTX_new());
            return context.IsInvalid ? throw new CryptographicException("OpenSSL could not make a digest context.") : context;
        }

        protected override bool ReleaseHandle()
        {
            NativeMethods.EVP_MD_CTX_free(handle);
            return true;
        }
    }

    private static class NativeMethods
    {
        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EVP_MD_fetch(IntPtr libraryContext, byte[] algorithm, IntPtr properties);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr EVP_MD_CTX_new();

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void EVP_MD_CTX_free(IntPtr context);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_MD_CTX_copy_ex(IntPtr destination, IntPtr source);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_DigestInit_ex2(IntPtr context, IntPtr algorithm, IntPtr parameters);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_DigestUpdate(IntPtr context, ref byte data, nuint length);

        [DllImport(OpenSsl.LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int EVP_DigestFinal_ex(IntPtr context, ref byte digest, ref uint length);
    }
}
