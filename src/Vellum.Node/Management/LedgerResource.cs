using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Vellum.Core.Identity;
using Vellum.Node.Service;

namespace Vellum.Node.Management;

/// <summary>A user named by the control plane through its object id (<c>aadBasedSecurityPrincipals</c>).</summary>
/// <param name="PrincipalId">The object id, a GUID in lower case (the id its tokens name).</param>
/// <param name="TenantId">Its tenant, a GUID in lower case, or null when not given.</param>
/// <param name="Role">Administrator, Contributor or Reader.</param>
public sealed record AadPrincipal(string PrincipalId, string? TenantId, string Role);

/// <summary>A user named by the control plane through its certificate (<c>certBasedSecurityPrincipals</c>).</summary>
/// <param name="CertificatePem">The certificate, PEM with line breaks (input without them is normalised).</param>
/// <param name="Role">Administrator, Contributor or Reader.</param>
public sealed record CertPrincipal(string CertificatePem, string Role)
{
    /// <summary>The user id the ledger knows it by (the certificate's SHA-256 fingerprint, as ACL's).</summary>
    public string UserId
    {
        get
        {
            using var certificate = X509Certificate2.CreateFromPem(CertificatePem);
            return CertificateFingerprint.Compute(certificate);
        }
    }
}

/// <summary>
/// A ledger as the control plane knows it (ARM's <c>Microsoft.ConfidentialLedger/ledgers</c> resource): where it lives
/// in ARM's hierarchy (subscription, resource group) and whose it is (tenant), its location and tags, the principals
/// the control plane gave it, and who made and last changed it. Kept in the ledger's folder
/// (<c>ledgers/{name}/state/resource.json</c>), so that it is written with the ledger's material before the ledger is
/// adopted, and erased with the ledger when it is deleted. A ledger made without the control plane has none.
/// </summary>
public sealed record LedgerResource
{
    private const int Version = 1;

    public required LedgerName Name { get; init; }

    public required string SubscriptionId { get; init; }

    public required string ResourceGroup { get; init; }

    public required string TenantId { get; init; }

    public required string Location { get; init; }

    public required bool IsPrivate { get; init; }

    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<AadPrincipal> AadPrincipals { get; init; } = [];

    public IReadOnlyList<CertPrincipal> CertPrincipals { get; init; } = [];

    public required string CreatedBy { get; init; }

    public required string CreatedByType { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required string LastModifiedBy { get; init; }

    public required string LastModifiedByType { get; init; }

    public required DateTimeOffset LastModifiedAt { get; init; }

    /// <summary>The operation that made it (a creation cut short by a stop is judged by it).</summary>
    public required string OperationId { get; init; }

    /// <summary>Whether this is the resource at (<paramref name="subscription"/>, <paramref name="resourceGroup"/>) of <paramref name="tenant"/>; ARM compares these case-insensitively.</summary>
    public bool IsAt(string tenant, string subscription, string? resourceGroup) =>
        string.Equals(TenantId, tenant, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(SubscriptionId, subscription, StringComparison.OrdinalIgnoreCase) &&
        (resourceGroup is null || string.Equals(ResourceGroup, resourceGroup, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every (user id, role) the principals name, certificate users by fingerprint.</summary>
    public IEnumerable<(string UserId, string Role)> Users() =>
        AadPrincipals.Select(p => (p.PrincipalId, p.Role)).Concat(CertPrincipals.Select(p => (p.UserId, p.Role)));

    public byte[] Encode()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("version", Version);
            writer.WriteString("name", Name.Value);
            writer.WriteString("subscriptionId", SubscriptionId);
            writer.WriteString("resourceGroup", ResourceGroup);
            writer.WriteString("tenantId", TenantId);
            writer.WriteString("location", Location);
            writer.WriteString("ledgerType", IsPrivate ? "Private" : "Public");
            writer.WriteStartObject("tags");
            foreach (var (key, value) in Tags)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteStartArray("aadPrincipals");
            foreach (var principal in AadPrincipals)
            {
                writer.WriteStartObject();
                writer.WriteString("principalId", principal.PrincipalId);
                if (principal.TenantId is { } tenant)
                {
                    writer.WriteString("tenantId", tenant);
                }

                writer.WriteString("role", principal.Role);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("certPrincipals");
            foreach (var principal in CertPrincipals)
            {
                writer.WriteStartObject();
                writer.WriteString("cert", principal.CertificatePem);
                writer.WriteString("role", principal.Role);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteString("createdBy", CreatedBy);
            writer.WriteString("createdByType", CreatedByType);
            writer.WriteString("createdAt", CreatedAt);
            writer.WriteString("lastModifiedBy", LastModifiedBy);
            writer.WriteString("lastModifiedByType", LastModifiedByType);
            writer.WriteString("lastModifiedAt", LastModifiedAt);
            writer.WriteString("operationId", OperationId);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads what <see cref="Encode"/> wrote; false with the reason when it is damaged or of another version.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out LedgerResource? resource, [NotNullWhen(false)] out string? error)
    {
        resource = null;
        try
        {
            using var document = JsonDocument.Parse(bytes.ToArray());
            var root = document.RootElement;
            if (root.GetProperty("version").GetInt32() != Version)
            {
                error = $"not a ledger resource of version {Version}";
                return false;
            }

            if (!LedgerName.TryParse(root.GetProperty("name").GetString(), out var name, out var nameError))
            {
                error = nameError;
                return false;
            }

            resource = new LedgerResource
            {
                Name = name,
                SubscriptionId = root.GetProperty("subscriptionId").GetString()!,
                ResourceGroup = root.GetProperty("resourceGroup").GetString()!,
                TenantId = root.GetProperty("tenantId").GetString()!,
                Location = root.GetProperty("location").GetString()!,
                IsPrivate = root.GetProperty("ledgerType").GetString() == "Private",
                Tags = root.GetProperty("tags").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal),
                AadPrincipals = [.. root.GetProperty("aadPrincipals").EnumerateArray().Select(p => new AadPrincipal(
                    p.GetProperty("principalId").GetString()!, p.TryGetProperty("tenantId", out var t) ? t.GetString() : null, p.GetProperty("role").GetString()!))],
                CertPrincipals = [.. root.GetProperty("certPrincipals").EnumerateArray().Select(p => new CertPrincipal(p.GetProperty("cert").GetString()!, p.GetProperty("role").GetString()!))],
                CreatedBy = root.GetProperty("createdBy").GetString()!,
                CreatedByType = root.GetProperty("createdByType").GetString()!,
                CreatedAt = root.GetProperty("createdAt").GetDateTimeOffset(),
                LastModifiedBy = root.GetProperty("lastModifiedBy").GetString()!,
                LastModifiedByType = root.GetProperty("lastModifiedByType").GetString()!,
                LastModifiedAt = root.GetProperty("lastModifiedAt").GetDateTimeOffset(),
                OperationId = root.GetProperty("operationId").GetString()!,
            };
            error = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            error = $"not a ledger resource: {ex.Message}";
            return false;
        }
    }

    /// <summary>The resource kept in <paramref name="file"/>, or null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is damaged.</exception>
    public static LedgerResource? Read(string file)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        return TryDecode(File.ReadAllBytes(file), out var resource, out var error)
            ? resource
            : throw new InvalidDataException($"{file}: {error}");
    }

    /// <summary>Keeps it in <paramref name="file"/> atomically and durably.</summary>
    public void Write(string file) => Vellum.Storage.IO.Durability.WriteFileAtomic(file, Encode());

    /// <summary>Whether <paramref name="role"/> is a role the control plane may give (ARM's <c>ledgerRoleName</c>).</summary>
    public static bool IsGivenRole(string? role) => role is Roles.Administrator or Roles.Contributor or Roles.Reader;
}
