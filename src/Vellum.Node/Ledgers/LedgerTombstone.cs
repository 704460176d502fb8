using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Vellum.Core.Primitives;

namespace Vellum.Node.Ledgers;

/// <summary>
/// What the deployment keeps of a deleted ledger, so that its old receipts can still be judged: its name and type, its
/// service certificate (what its receipts chain to), the last transaction a signature covered and the root it signed,
/// and who deleted it when. No key, secret or entry. On a cluster it is the description of the deletion entry in the
/// consensus log (<see cref="Vellum.Consensus.ConsensusGroup.ProposeLedgerDeletionAsync"/>), so every member keeps the
/// same one; every node keeps it as <c>node/tombstones/{name}.{certificate SHA-256}.json</c>.
/// </summary>
/// <remarks>
/// In the log: <c>u8 version (1, or 2 with a tenant) · u8 type (0 Public, 1 Private) · i64 view · i64 seqno of the
/// last signature · 32-byte root it signed · i64 deleted at (Unix ms) · u16 length · deleted by (UTF-8) · u16 length ·
/// service certificate (DER)</c> and, in version 2, <c>· u8 length · tenant (ASCII GUID)</c>, little-endian.
/// </remarks>
/// <param name="Name">The ledger's name.</param>
/// <param name="IsPrivate">Its type.</param>
/// <param name="ServiceCertificateDer">Its service certificate (DER).</param>
/// <param name="LastSigned">The last signature transaction (0.0 when it had none).</param>
/// <param name="LastSignedRoot">The Merkle root that signature signed (zero when none).</param>
/// <param name="DeletedBy">The caller that deleted it (its user id).</param>
/// <param name="DeletedAt">When the deleting primary accepted the deletion.</param>
public sealed record LedgerTombstone(
    string Name, bool IsPrivate, byte[] ServiceCertificateDer, TxId LastSigned, Hash32 LastSignedRoot, string DeletedBy, DateTimeOffset DeletedAt)
{
    private const byte Version = 1;
    private const byte VersionWithTenant = 2;
    private const int MaxDeletedByBytes = 1024;
    private const int MaxCertificateBytes = 2048;
    private const int FixedLength = 2 + 8 + 8 + Hash32.Size + 8 + 2 + 2;

    /// <summary>The tenant the ledger belonged to (a control-plane ledger's), or null.</summary>
    public string? TenantId { get; init; }

    /// <summary>SHA-256 of the service certificate: which ledger of the name this was.</summary>
    public Hash32 ServiceCertificateDigest => Hash32.Compute(ServiceCertificateDer);

    /// <summary>The service certificate as PEM.</summary>
    public string ServiceCertificatePem => PemEncoding.WriteString("CERTIFICATE", ServiceCertificateDer) + "\n";

    /// <summary>The description of a deletion entry (everything but the name, which the entry carries).</summary>
    public byte[] Encode()
    {
        var deletedBy = Encoding.UTF8.GetBytes(DeletedBy);
        if (deletedBy.Length > MaxDeletedByBytes || ServiceCertificateDer.Length > MaxCertificateBytes)
        {
            throw new ArgumentException("a tombstone's caller or certificate is too long");
        }

        var tenant = TenantId is null ? [] : Encoding.ASCII.GetBytes(TenantId);
        if (tenant.Length > 64)
        {
            throw new ArgumentException("a tombstone's tenant is too long");
        }

        var bytes = new byte[FixedLength + deletedBy.Length + ServiceCertificateDer.Length + (TenantId is null ? 0 : 1 + tenant.Length)];
        var span = bytes.AsSpan();
        span[0] = TenantId is null ? Version : VersionWithTenant;
        span[1] = IsPrivate ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(span[2..], LastSigned.View);
        BinaryPrimitives.WriteInt64LittleEndian(span[10..], LastSigned.Seqno);
        LastSignedRoot.CopyTo(span[18..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[(18 + Hash32.Size)..], DeletedAt.ToUnixTimeMilliseconds());
        var at = 26 + Hash32.Size;
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)deletedBy.Length);
        deletedBy.CopyTo(span[(at + 2)..]);
        at += 2 + deletedBy.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)ServiceCertificateDer.Length);
        ServiceCertificateDer.CopyTo(span[(at + 2)..]);
        if (TenantId is not null)
        {
            at += 2 + ServiceCertificateDer.Length;
            span[at] = (byte)tenant.Length;
            tenant.CopyTo(span[(at + 1)..]);
        }

        return bytes;
    }

    /// <summary>Reads a deletion entry's description of ledger <paramref name="name"/>; false with the reason when damaged.</summary>
    public static bool TryDecode(string name, ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out LedgerTombstone? tombstone, [NotNullWhen(false)] out string? error)
    {
        tombstone = null;
        if (bytes.Length < FixedLength || bytes[0] is not (Version or VersionWithTenant) || bytes[1] > 1)
        {
            error = "not a ledger deletion of version 1 or 2";
            return false;
        }

        var at = 26 + Hash32.Size;
        var byLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
        if (byLength > MaxDeletedByBytes || bytes.Length < FixedLength + byLength)
        {
            error = "the caller is damaged";
            return false;
        }

        var deletedBy = Encoding.UTF8.GetString(bytes.Slice(at + 2, byLength));
        at += 2 + byLength;
        var certificateLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
        var end = at + 2 + certificateLength;
        if (certificateLength is 0 or > MaxCertificateBytes || (bytes[0] == Version ? bytes.Length != end : bytes.Length <= end))
        {
            error = "the service certificate is damaged";
            return false;
        }

        string? tenant = null;
        if (bytes[0] == VersionWithTenant)
        {
            if (bytes[end] is var tenantLength && bytes.Length != end + 1 + tenantLength || !Ascii.IsValid(bytes.Slice(end + 1, bytes[end])))
            {
                error = "the tenant is damaged";
                return false;
            }

            tenant = Encoding.ASCII.GetString(bytes.Slice(end + 1, bytes[end]));
        }

        tombstone = new LedgerTombstone(
            name,
            bytes[1] == 1,
            bytes.Slice(at + 2, certificateLength).ToArray(),
            new TxId(BinaryPrimitives.ReadInt64LittleEndian(bytes[2..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[10..])),
            new Hash32(bytes.Slice(18, Hash32.Size)),
            deletedBy,
            DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(bytes[(18 + Hash32.Size)..])))
        {
            TenantId = tenant,
        };
        error = null;
        return true;
    }

    /// <summary>The tombstone's fields, as the API answers them and its file holds them (into the object being written).</summary>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteString("name", Name);
        writer.WriteString("ledgerType", IsPrivate ? "Private" : "Public");
        writer.WriteString("serviceCertificate", ServiceCertificatePem);
        writer.WriteString("serviceCertificateDigest", ServiceCertificateDigest.ToString());
        writer.WriteString("lastSignedTransactionId", LastSigned.ToString());
        writer.WriteString("lastSignedRoot", LastSignedRoot.ToString());
        writer.WriteString("deletedBy", DeletedBy);
        writer.WriteString("deletedAt", DeletedAt.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        if (TenantId is not null)
        {
            writer.WriteString("tenantId", TenantId);
        }
    }

    /// <summary>The tombstone file's contents: <see cref="WriteFields"/> as one JSON object.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            WriteFields(writer);
            writer.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>Reads a tombstone file.</summary>
    /// <exception cref="InvalidDataException">It is not one.</exception>
    public static LedgerTombstone FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            string Text(string property) => root.GetProperty(property).GetString() ?? throw new InvalidDataException($"the tombstone's {property} is null");
            using var certificate = X509Certificate2.CreateFromPem(Text("serviceCertificate"));
            return new LedgerTombstone(
                Text("name"),
                Text("ledgerType") == "Private",
                certificate.RawData,
                TxId.TryParse(Text("lastSignedTransactionId"), out var id) ? id : throw new InvalidDataException("the tombstone's transaction id is damaged"),
                Hash32.ParseHex(Text("lastSignedRoot")),
                Text("deletedBy"),
                DateTimeOffset.Parse(Text("deletedAt"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal))
            {
                TenantId = root.TryGetProperty("tenantId", out var tenant) ? tenant.GetString() : null,
            };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidDataException($"not a ledger tombstone: {ex.Message}", ex);
        }
    }
}
