using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Vellum.Core.Primitives;

namespace Vellum.Node.Ledgers;

/// <summary>
/// What a cluster's consensus log says of a ledger made while the cluster runs (the description of a creation entry,
/// <see cref="Vellum.Consensus.ConsensusGroup.ProposeLedgerAsync"/>): its type, the SHA-256 of its service certificate
/// and the client address of the member that made it. No secret: each member fetches the ledger's material from the
/// others over the node channel and checks it against this, so the log never holds a key that outlives the ledger.
/// </summary>
/// <remarks>Encoded as <c>u8 version (1) · u8 type (0 Public, 1 Private) · 32-byte digest · u16 length · creator URL (UTF-8)</c>, little-endian.</remarks>
/// <param name="IsPrivate">The ledger's type.</param>
/// <param name="ServiceCertificateDigest">SHA-256 of the service certificate (DER).</param>
/// <param name="Creator">The client address of the member that made it (asked first for the material).</param>
internal sealed record LedgerCreation(bool IsPrivate, Hash32 ServiceCertificateDigest, Uri Creator)
{
    private const byte Version = 1;
    private const int MaxCreatorBytes = 1024;

    /// <summary>The digest <see cref="ServiceCertificateDigest"/> holds for the certificate in <paramref name="pem"/>.</summary>
    public static Hash32 DigestOf(string pem)
    {
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
        return DigestOf(certificate);
    }

    /// <summary>The digest <see cref="ServiceCertificateDigest"/> holds for <paramref name="certificate"/>.</summary>
    public static Hash32 DigestOf(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
        Hash32.Compute(certificate.RawDataMemory.Span);

    public byte[] Encode()
    {
        var creator = Encoding.UTF8.GetBytes(Creator.ToString());
        if (creator.Length > MaxCreatorBytes)
        {
            throw new ArgumentException($"a creator address is at most {MaxCreatorBytes} bytes");
        }

        var bytes = new byte[2 + Hash32.Size + 2 + creator.Length];
        bytes[0] = Version;
        bytes[1] = IsPrivate ? (byte)1 : (byte)0;
        ServiceCertificateDigest.CopyTo(bytes.AsSpan(2));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 + Hash32.Size), (ushort)creator.Length);
        creator.CopyTo(bytes.AsSpan(4 + Hash32.Size));
        return bytes;
    }

    /// <summary>Reads a description; false with the reason when it is damaged or of another version.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out LedgerCreation? creation, [NotNullWhen(false)] out string? error)
    {
        creation = null;
        if (bytes.Length < 4 + Hash32.Size || bytes[0] != Version || bytes[1] > 1)
        {
            error = "not a ledger creation of version 1";
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 + Hash32.Size)..]);
        if (length > MaxCreatorBytes || bytes.Length != 4 + Hash32.Size + length ||
            !Uri.TryCreate(Encoding.UTF8.GetString(bytes.Slice(4 + Hash32.Size, length)), UriKind.Absolute, out var creator) || creator.Scheme != Uri.UriSchemeHttps)
        {
            error = "the creator's address is damaged";
            return false;
        }

        creation = new LedgerCreation(bytes[1] == 1, new Hash32(bytes.Slice(2, Hash32.Size)), creator);
        error = null;
        return true;
    }
}
