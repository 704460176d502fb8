using System.Runtime.InteropServices;

namespace Vellum.Core.Crypto;

/// <summary>
/// What the direct OpenSSL paths (<see cref="OpenSslDigest"/>, <see cref="Aes256Gcm"/>) share: the library .NET itself
/// loads on Linux, and clearing its error queue after a failed call.
/// </summary>
internal static class OpenSsl
{
    /// <summary>OpenSSL 3's crypto library.</summary>
    public const string LibCrypto = "libcrypto.so.3";

    /// <summary>Clears this thread's OpenSSL error queue, so that a failure here is not reported by a later call.</summary>
    public static void ClearErrors() => NativeMethods.ERR_clear_error();

    private static class NativeMethods
    {
        [DllImport(LibCrypto, ExactSpelling = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void ERR_clear_error();
    }
}
