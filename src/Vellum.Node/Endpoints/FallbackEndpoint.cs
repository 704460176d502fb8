using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Vellum.Node.Auth;

namespace Vellum.Node.Endpoints;

/// <summary>
/// Every request no endpoint takes: 405 <c>MethodNotAllowed</c> with an <c>Allow</c> header when the path is a known
/// route for other methods, else 404 <c>ResourceNotFound</c>; both in the ACL shape. It matches any path
/// (<c>{**path}</c>; the default fallback's <c>nonfile</c> constraint left paths whose last segment has a dot, such as
/// <c>/app/transactions/1.3</c>, to an empty 404) and is open: it answers, it never runs anything.
/// </summary>
internal static class FallbackEndpoint
{
    public static void Map(IEndpointRouteBuilder app)
    {
        // The route table is complete once the host is built, before the first request can reach this.
        var routes = new Lazy<Route[]>(() => Routes(app.DataSources), LazyThreadSafetyMode.ExecutionAndPublication);
        app.MapFallback("{**path}", context => Answer(context, routes.Value)).Requires(EndpointAccess.Open);
    }

    private sealed record Route(TemplateMatcher Matcher, string[] Methods);

    private static Route[] Routes(IEnumerable<EndpointDataSource> sources) =>
        [.. sources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.Parameters.All(p => !p.IsCatchAll))
            .GroupBy(endpoint => endpoint.RoutePattern.RawText, StringComparer.OrdinalIgnoreCase)
            .Select(group => new Route(
                new TemplateMatcher(new RouteTemplate(group.First().RoutePattern), new RouteValueDictionary()),
                [.. group.SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Distinct(StringComparer.OrdinalIgnoreCase)]))];

    private static Task Answer(HttpContext context, Route[] routes)
    {
        var path = context.Request.Path;
        var allowed = new List<string>();
        foreach (var route in routes)
        {
            if (route.Matcher.TryMatch(path, new RouteValueDictionary()))
            {
                allowed.AddRange(route.Methods);
            }
        }

        if (allowed.Count == 0)
        {
            return AclResponses.Error(context, AclErrors.ResourceNotFound, $"No endpoint {context.Request.Method} {path}.");
        }

        var allow = string.Join(", ", allowed.Distinct(StringComparer.OrdinalIgnoreCase));
        context.Response.Headers.Allow = allow;
        return AclResponses.Error(context, AclErrors.MethodNotAllowed, $"{context.Request.Method} is not allowed on {path}; allowed: {allow}.");
    }
}
