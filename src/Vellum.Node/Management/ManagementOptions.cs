using System.Security.Cryptography.X509Certificates;
using Vellum.Core.Identity;

namespace Vellum.Node.Management;

/// <summary>What an operator of the control plane may do: Owner manages ledgers, Reader sees them.</summary>
public enum OperatorRole
{
    Owner,
    Reader,
}

/// <summary>An operator of the control plane, by certificate file or by the object id its tokens name.</summary>
/// <param name="Credential">A PEM certificate file (<c>--operator-cert</c>) or a user id (<c>--operator-oid</c>).</param>
/// <param name="IsCertificate">Whether <paramref name="Credential"/> is a certificate file.</param>
/// <param name="Role">Its role.</param>
public sealed record OperatorSpec(string Credential, bool IsCertificate, OperatorRole Role)
{
    /// <summary>Parses <c>VALUE</c> or <c>VALUE:Owner</c> / <c>VALUE:Reader</c> (Owner when no role is given).</summary>
    public static bool TryParse(string text, bool isCertificate, out OperatorSpec? spec, out string? error)
    {
        spec = null;
        var role = OperatorRole.Owner;
        var value = text;
        var colon = text.LastIndexOf(':');
        if (colon > 0 && text[(colon + 1)..] is "Owner" or "Reader")
        {
            role = text[(colon + 1)..] == "Owner" ? OperatorRole.Owner : OperatorRole.Reader;
            value = text[..colon];
        }

        if (value.Length == 0)
        {
            error = $"'{text}' names no operator";
            return false;
        }

        spec = new OperatorSpec(value, isCertificate, role);
        error = null;
        return true;
    }
}

/// <summary>The control plane's settings (the ARM-shaped API of <see cref="ManagementApi"/>).</summary>
public sealed class ManagementOptions
{
    /// <summary>The audience control-plane tokens are for, by default (Azure Resource Manager's).</summary>
    public const string DefaultAudience = "https://management.azure.com/";

    /// <summary>The tenant of the all-zero GUID: the tenant of certificate operators and tokens without <c>tid</c> by default.</summary>
    public const string NoTenant = "00000000-0000-0000-0000-000000000000";

    /// <summary>The operators (<c>--operator-cert</c>, <c>--operator-oid</c>); none: the deployment's Administrators are Owners.</summary>
    public IReadOnlyList<OperatorSpec> Operators { get; init; } = [];

    /// <summary>The tenant of certificate operators and of tokens that carry no <c>tid</c> (<c>--tenant</c>).</summary>
    public string TenantId { get; init; } = NoTenant;

    /// <summary>
    /// The audiences control-plane tokens may carry (<c>--management-audience</c>); empty: <see cref="DefaultAudience"/>
    /// and the deployment's own URL (what Azure's clients ask for when pointed at it).
    /// </summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    /// <summary>How many ledgers one tenant may have through the control plane (<c>--ledger-quota</c>).</summary>
    public int LedgerQuota { get; init; } = 100;

    /// <summary>
    /// A listener of its own for the control plane (<c>--management-listen</c>): it answers the control plane alone, on
    /// any host name, with the deployment certificate, and the main listener then answers it only for members sending
    /// an operator's request on. Null (the default): the main listener answers it on the deployment's host name.
    /// </summary>
    public System.Net.IPEndPoint? Listen { get; init; }

    /// <summary>Checks every setting; the message names what is wrong.</summary>
    /// <exception cref="ArgumentException">A setting is out of range, or an operator certificate cannot be read.</exception>
    public void Validate()
    {
        if (!Guid.TryParseExact(TenantId, "D", out _))
        {
            throw new ArgumentException($"the tenant '{TenantId}' is not a GUID", nameof(TenantId));
        }

        if (LedgerQuota is < 1 or > 100_000)
        {
            throw new ArgumentException($"the ledger quota is 1 to 100000, not {LedgerQuota}", nameof(LedgerQuota));
        }

        foreach (var audience in Audiences)
        {
            if (string.IsNullOrWhiteSpace(audience))
            {
                throw new ArgumentException("a management audience is empty", nameof(Audiences));
            }
        }

        foreach (var spec in Operators)
        {
            if (spec.IsCertificate)
            {
                _ = FingerprintOf(spec.Credential);
            }
            else if (!Auth.BearerTokens.TryUserId(spec.Credential, out _))
            {
                throw new ArgumentException($"the operator '{spec.Credential}' is not a user id (a GUID, or up to 256 of A-Z a-z 0-9 . _ : @ -)", nameof(Operators));
            }
        }
    }

    /// <summary>The fingerprint of the certificate in <paramref name="file"/>.</summary>
    /// <exception cref="ArgumentException">The file cannot be read as a PEM certificate.</exception>
    internal static string FingerprintOf(string file)
    {
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(file));
            return CertificateFingerprint.Compute(certificate);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"the operator certificate {file} cannot be read as a PEM certificate: {ex.Message}", nameof(file), ex);
        }
    }
}
