using System.Text.Json;
using Vellum.Core.Claims;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

/// <summary>The published ACL receipts in acl-receipt-vectors.json (copied from /work/shared/reference).</summary>
internal static class AclVectors
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Receipts", "acl-receipt-vectors.json"))));

    public static string ReceiptJson(string name)
    {
        foreach (var vector in Document.Value.RootElement.GetProperty("vectors").EnumerateArray())
        {
            if (vector.GetProperty("name").GetString() == name)
            {
                return vector.GetProperty("receipt").GetRawText();
            }
        }

        throw new ArgumentException($"No vector {name}.", nameof(name));
    }

    public static Receipt Receipt(string name)
    {
        Assert.True(Vellum.Core.Receipts.ReceiptJson.TryParseReceipt(ReceiptJson(name), out var receipt, out var error), error);
        return receipt;
    }

    public static IReadOnlyList<ApplicationClaim> ApplicationClaims()
    {
        var json = Document.Value.RootElement.GetProperty("applicationClaims").GetRawText();
        Assert.True(Vellum.Core.Receipts.ReceiptJson.TryParseApplicationClaims(json, out var claims, out var error), error);
        return claims;
    }

    public static string ExpectedClaimsDigest => Document.Value.RootElement.GetProperty("expectedClaimsDigest").GetString()!;
}
