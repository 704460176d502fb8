using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Vellum.Core.Identity;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>
/// <c>/app/users</c> (one role, 2022-05-13) and <c>/app/ledgerUsers</c> (several roles, 2024-08-22-preview): both
/// views of the same user table. Reads need any role; changes need Administrator.
/// </summary>
internal static class UserEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        // The two generations of ACL's user API: one role a user (2024-01-26-preview), or a list (2024-08-22-preview).
        MapUsers(app, "/app/users", multipleRoles: false, "Users and their role (2024-01-26-preview).", "A user's role.", "assignedRole");
        MapUsers(app, "/app/ledgerUsers", multipleRoles: true, "Users and their roles (2024-08-22-preview).", "A user's roles.", "assignedRoles");
    }

    private static void MapUsers(IEndpointRouteBuilder app, string path, bool multipleRoles, string listSummary, string getSummary, string roleField)
    {
        app.MapGet(path, context => List(context, LedgerRouting.Of(context), multipleRoles))
            .Requires(EndpointAccess.DataPlane, LedgerActions.UsersRead).Describe(listSummary);
        app.MapGet($"{path}/{{userId}}", context => Get(context, LedgerRouting.Of(context), multipleRoles))
            .Requires(EndpointAccess.DataPlane, LedgerActions.UsersRead).Describe(getSummary);
        app.MapMethods($"{path}/{{userId}}", ["PATCH"], context => Patch(context, LedgerRouting.Of(context), multipleRoles))
            .Requires(EndpointAccess.DataPlane, LedgerActions.UsersWrite).Describe($"Create or merge-patch a user ({{\"{roleField}\"}}); Administrator only.");
        app.MapDelete($"{path}/{{userId}}", context => Delete(context, LedgerRouting.Of(context)))
            .Requires(EndpointAccess.DataPlane, LedgerActions.UsersWrite).Describe("Remove a user; Administrator only.", 204);
    }

    /// <summary>
    /// A user id is a certificate fingerprint (64 hex digits, with or without colons, any case → upper-case hex), an
    /// object id (a GUID → lower-case), or, on a node that accepts bearer tokens (<paramref name="tokenUsers"/>), another
    /// token user's id (up to 256 of <c>A-Za-z0-9._:@-</c>, as its issuer's user claim gives it: see
    /// <see cref="BearerTokens.TryUserId"/>).
    /// </summary>
    public static bool TryNormalizeUserId(string? text, bool tokenUsers, out string userId)
    {
        if (CertificateFingerprint.TryNormalize(text, out var fingerprint))
        {
            userId = fingerprint;
            return true;
        }

        if (Guid.TryParseExact(text, "D", out var objectId))
        {
            userId = objectId.ToString("D");
            return true;
        }

        if (tokenUsers && text is not null && BearerTokens.TryUserId(text, out userId))
        {
            return true;
        }

        userId = string.Empty;
        return false;
    }

    private static async Task<string?> UserIdParameter(HttpContext context)
    {
        var text = (string?)context.Request.RouteValues["userId"];
        if (TryNormalizeUserId(text, LedgerRouting.Of(context).Options.JwtIssuers.Count > 0, out var userId))
        {
            return userId;
        }

        await AclResponses.Error(context, AclErrors.InvalidUserId,
            $"'{text}' is neither a certificate fingerprint (SHA-256, 64 hex digits) nor an object id (GUID){(LedgerRouting.Of(context).Options.JwtIssuers.Count > 0 ? " nor a token user's id (up to 256 of A-Z a-z 0-9 . _ : @ -)" : string.Empty)}.").ConfigureAwait(false);
        return null;
    }

    private static async Task List(HttpContext context, LedgerService ledger, bool multipleRoles)
    {
        var users = ledger.Users.All();
        await AclResponses.Json(context, writer =>
        {
            writer.WriteStartArray("ledgerUsers");
            foreach (var (id, roles) in users)
            {
                writer.WriteStartObject();
                WriteUser(writer, id, roles, multipleRoles);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private static async Task Get(HttpContext context, LedgerService ledger, bool multipleRoles)
    {
        if (await UserIdParameter(context) is not { } userId)
        {
            return;
        }

        var roles = ledger.Users.RolesOf(userId);
        if (roles.Count == 0)
        {
            await AclResponses.Error(context, AclErrors.UserNotFound, $"User {userId} does not exist.").ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, writer => WriteUser(writer, userId, roles, multipleRoles)).ConfigureAwait(false);
    }

    private static async Task Patch(HttpContext context, LedgerService ledger, bool multipleRoles)
    {
        if (await UserIdParameter(context) is not { } userId)
        {
            return;
        }

        var body = await RequestBody.ReadJsonAsync(context, ledger.Options.MaxRequestBodyBytes, "application/merge-patch+json", "application/json").ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        List<string>? roles;
        string? problem;
        try
        {
            roles = ParseRoles(body.Value, multipleRoles, ledger.Users, out problem);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body.Value.Array!);
        }

        if (roles is null)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, problem!).ConfigureAwait(false);
            return;
        }

        // Merge patch: a body without the role field keeps the user's roles (a new user must get one).
        if (roles.Count == 0)
        {
            roles = [.. ledger.Users.RolesOf(userId)];
            if (roles.Count == 0)
            {
                await AclResponses.Error(context, AclErrors.InvalidInput, $"A new user needs '{(multipleRoles ? "assignedRoles" : "assignedRole")}'.").ConfigureAwait(false);
                return;
            }
        }

        if (await ledger.ChangeUserAsync(ClientIdentity.Of(context).UserId, userId, roles, context.RequestAborted).ConfigureAwait(false) is { } refused)
        {
            await AclResponses.Error(context, refused.Error, refused.Message).ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, writer => WriteUser(writer, userId, roles, multipleRoles)).ConfigureAwait(false);
    }

    private static async Task Delete(HttpContext context, LedgerService ledger)
    {
        if (await UserIdParameter(context) is not { } userId)
        {
            return;
        }

        if (ledger.Users.RolesOf(userId).Count == 0)
        {
            await AclResponses.Error(context, AclErrors.UserNotFound, $"User {userId} does not exist.").ConfigureAwait(false);
            return;
        }

        if (await ledger.ChangeUserAsync(ClientIdentity.Of(context).UserId, userId, [], context.RequestAborted).ConfigureAwait(false) is { } refused)
        {
            await AclResponses.Error(context, refused.Error, refused.Message).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static void WriteUser(Utf8JsonWriter writer, string userId, IReadOnlyList<string> roles, bool multipleRoles)
    {
        if (multipleRoles)
        {
            writer.WriteStartArray("assignedRoles");
            foreach (var role in roles)
            {
                writer.WriteStringValue(role);
            }

            writer.WriteEndArray();
        }
        else
        {
            // One role per user in the 2022-05-13 shape: the most powerful one held.
            var role = roles.Contains(Roles.Administrator) ? Roles.Administrator : roles.Contains(Roles.Contributor) ? Roles.Contributor : roles[0];
            writer.WriteString("assignedRole", role);
        }

        writer.WriteString("userId", userId);
    }

    /// <summary>
    /// A property name twice in one object, at any depth, is refused (JsonException): with duplicates, a proxy or
    /// audit tool that reads the first value and this parser, which would read the last, disagree about the roles.
    /// </summary>
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false };

    /// <summary>Reads <c>assignedRole</c> (or <c>assignedRoles</c>); an empty list means "not given".</summary>
    /// <summary>A built-in role as ACL spells it, or a role the ledger defines (any case; as it was defined); else null.</summary>
    private static string? RoleNamed(string? name, UserTable users) =>
        Roles.TryNormalize(name, out var role) ? role : name is null ? null : users.DefinedRole(name)?.RoleName;

    private static List<string>? ParseRoles(ArraySegment<byte> json, bool multipleRoles, UserTable users, out string? problem)
    {
        try
        {
            using var document = JsonDocument.Parse(json, StrictJson);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                problem = "The request body must be a JSON object.";
                return null;
            }

            var roles = new List<string>();
            if (multipleRoles)
            {
                if (document.RootElement.TryGetProperty("assignedRoles", out var array))
                {
                    if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
                    {
                        problem = "'assignedRoles' must be a non-empty array of role names.";
                        return null;
                    }

                    foreach (var item in array.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String || RoleNamed(item.GetString(), users) is not { } role)
                        {
                            problem = $"'{item}' is not a role: Administrator, Contributor, Reader or a role the ledger defines (/app/roles).";
                            return null;
                        }

                        if (!roles.Contains(role))
                        {
                            roles.Add(role);
                        }
                    }
                }
            }
            else if (document.RootElement.TryGetProperty("assignedRole", out var value))
            {
                if (value.ValueKind != JsonValueKind.String || RoleNamed(value.GetString(), users) is not { } role)
                {
                    problem = $"'{value}' is not a role: Administrator, Contributor, Reader or a role the ledger defines (/app/roles).";
                    return null;
                }

                roles.Add(role);
            }

            problem = null;
            return roles;
        }
        catch (JsonException ex)
        {
            problem = $"The request body is not valid JSON: {ex.Message}";
            return null;
        }
    }
}
