using Microsoft.AspNetCore.Http;
using Vellum.Node.Auth;

namespace Vellum.Node.Endpoints;

/// <summary>The ACL data-plane api-versions this node answers (docs/api-compatibility.md).</summary>
internal static class ApiVersions
{
    public static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "0.1-preview", "2022-04-20-preview", "2022-05-13", "2022-07-12", "2022-08-13", "2022-11-23",
        "2023-01-18-preview", "2024-01-26-preview", "2024-07-26-preview", "2024-08-22-preview",
        "2024-12-09-preview", "2026-02-23", "2026-07-31-preview",
    };

    public const string ItemKey = "vellum.api-version";

    /// <summary>
    /// Runs after routing: checks <c>api-version</c> for every endpoint whose <see cref="EndpointAccess"/> asks for it
    /// (the <c>/app</c> data plane). Several values are accepted when they agree (the JS client 1.0.0 appends a second
    /// one to each nextLink).
    /// </summary>
    public static async Task Middleware(HttpContext context, RequestDelegate next)
    {
        if (!EndpointAccess.Of(context).NeedsApiVersion)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var values = context.Request.Query["api-version"];
        if (values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            await AclResponses.Error(context, AclErrors.MissingApiVersionParameter, "The api-version query parameter is required.").ConfigureAwait(false);
            return;
        }

        var version = values[0]!;
        foreach (var value in values)
        {
            if (value != version)
            {
                await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, $"The api-version parameter is given twice with different values ('{version}', '{value}').").ConfigureAwait(false);
                return;
            }
        }

        if (!Known.Contains(version))
        {
            await AclResponses.Error(context, AclErrors.UnsupportedApiVersionValue, $"api-version '{version}' is not supported; supported: {string.Join(", ", Known.Order(StringComparer.Ordinal))}.").ConfigureAwait(false);
            return;
        }

        context.Items[ItemKey] = version;
        await next(context).ConfigureAwait(false);
    }

    public static string Of(HttpContext context) => (string)context.Items[ItemKey]!;
}
