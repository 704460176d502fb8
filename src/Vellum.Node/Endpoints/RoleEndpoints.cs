using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Vellum.Core.Entries;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>
/// User-defined roles (<c>/app/roles</c>, 2024-08-22-preview on): a role is a name and the actions it allows, defined
/// by a ledger transaction (<see cref="RoleDefinitionEntry"/>) and assigned to users through <c>/app/ledgerUsers</c>
/// (or <c>/app/users</c>). Bodies are <c>{"roles":[{"roleName","roleActions":[…]}]}</c>; the snake_case spelling of the
/// app samples (<c>role_name</c>, <c>role_actions</c>) is accepted too. Role names are compared in any case; the
/// built-in names cannot be defined. Under 2026-07-31-preview PUT and PATCH answer the roles and DELETE 204; before it,
/// a sentence, as ACL does.
/// </summary>
internal static class RoleEndpoints
{
    /// <summary>Most roles a ledger defines.</summary>
    public const int MaxRoles = 100;

    /// <summary>Most actions one role lists.</summary>
    public const int MaxActions = 32;

    /// <summary>Longest role name and action, in characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Longest action, in UTF-8 bytes.</summary>
    public const int MaxActionBytes = 256;

    private const string NewShapes = "2026-07-31-preview";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/app/roles", context => Get(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.RolesRead)
            .Describe("A user-defined role (roleName), or every one (no roleName).", 200, "roleName");
        app.MapPut("/app/roles", context => Change(context, LedgerRouting.Of(context), replaceOnly: false)).Requires(EndpointAccess.DataPlane, LedgerActions.RolesWrite)
            .Describe("Define (or redefine) user-defined roles ({\"roles\":[{\"roleName\",\"roleActions\"}]}).");
        app.MapMethods("/app/roles", ["PATCH"], context => Change(context, LedgerRouting.Of(context), replaceOnly: true)).Requires(EndpointAccess.DataPlane, LedgerActions.RolesWrite)
            .Describe("Replace the actions of existing user-defined roles.");
        app.MapDelete("/app/roles", context => Delete(context, LedgerRouting.Of(context))).Requires(EndpointAccess.DataPlane, LedgerActions.RolesWrite)
            .Describe("Delete a user-defined role (roleName); users keep its name, which then allows nothing.", 200, "roleName");
    }

    private static async Task Get(HttpContext context, LedgerService ledger)
    {
        var name = context.Request.Query["roleName"].ToString();
        if (name.Length == 0)
        {
            var all = ledger.Users.DefinedRoles();
            await AclResponses.Json(context, writer => WriteRoles(writer, "roles", all)).ConfigureAwait(false);
            return;
        }

        if (ledger.Users.DefinedRole(name) is not { } role)
        {
            await AclResponses.Error(context, AclErrors.RoleNotFound, $"The ledger defines no role '{name}'.").ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, writer => WriteRoles(writer, "role", [role])).ConfigureAwait(false);
    }

    private static async Task Change(HttpContext context, LedgerService ledger, bool replaceOnly)
    {
        var body = await RequestBody.ReadJsonAsync(context, ledger.Options.MaxRequestBodyBytes, "application/json", "application/merge-patch+json").ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        List<RoleDefinitionEntry>? roles;
        string? problem;
        try
        {
            roles = Parse(body.Value, out problem);
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

        // Checked as a whole before any is written: a refused request changes nothing.
        var defined = ledger.Users.DefinedRoles();
        var added = roles.Count(r => !defined.Any(d => string.Equals(d.RoleName, r.RoleName, StringComparison.OrdinalIgnoreCase)));
        if (replaceOnly && added > 0)
        {
            var missing = roles.First(r => ledger.Users.DefinedRole(r.RoleName) is null).RoleName;
            await AclResponses.Error(context, AclErrors.RoleNotFound, $"The ledger defines no role '{missing}' to replace; define it with PUT.").ConfigureAwait(false);
            return;
        }

        if (defined.Count + added > MaxRoles)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"A ledger defines at most {MaxRoles} roles; it has {defined.Count}.").ConfigureAwait(false);
            return;
        }

        foreach (var role in roles)
        {
            // A redefinition keeps the name as first defined, so assignments made with it stay exact.
            var definition = ledger.Users.DefinedRole(role.RoleName) is { } existing ? role with { RoleName = existing.RoleName } : role;
            if (await ledger.ChangeRoleAsync(ClientIdentity.Of(context).UserId, definition, context.RequestAborted).ConfigureAwait(false) is { } refused)
            {
                await AclResponses.Error(context, refused.Error, refused.Message).ConfigureAwait(false);
                return;
            }
        }

        if (ApiVersions.Of(context) == NewShapes)
        {
            var now = roles.Select(r => ledger.Users.DefinedRole(r.RoleName)!).ToList();
            await AclResponses.Json(context, writer => WriteRoles(writer, "roles", now)).ConfigureAwait(false);
            return;
        }

        await Sentence(context, replaceOnly ? "Role replaced successfully." : "Role added successfully.").ConfigureAwait(false);
    }

    private static async Task Delete(HttpContext context, LedgerService ledger)
    {
        var name = context.Request.Query["roleName"].ToString();
        if (name.Length == 0)
        {
            await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, "roleName names the role to delete.").ConfigureAwait(false);
            return;
        }

        if (ledger.Users.DefinedRole(name) is not { } role)
        {
            await AclResponses.Error(context, AclErrors.RoleNotFound, $"The ledger defines no role '{name}'.").ConfigureAwait(false);
            return;
        }

        if (await ledger.ChangeRoleAsync(ClientIdentity.Of(context).UserId, new RoleDefinitionEntry(role.RoleName, []), context.RequestAborted).ConfigureAwait(false) is { } refused)
        {
            await AclResponses.Error(context, refused.Error, refused.Message).ConfigureAwait(false);
            return;
        }

        if (ApiVersions.Of(context) == NewShapes)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        await Sentence(context, $"Role {role.RoleName} deleted successfully.").ConfigureAwait(false);
    }

    /// <summary>What the API versions before 2026-07-31-preview answer: a JSON string.</summary>
    private static async Task Sentence(HttpContext context, string text)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, AclJsonEncoder.WriterOptions))
        {
            writer.WriteStringValue(text);
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static void WriteRoles(Utf8JsonWriter writer, string property, IReadOnlyList<RoleDefinitionEntry> roles)
    {
        writer.WriteStartArray(property);
        foreach (var role in roles)
        {
            writer.WriteStartObject();
            writer.WriteString("roleName", role.RoleName);
            writer.WriteStartArray("roleActions");
            foreach (var action in role.Actions)
            {
                writer.WriteStringValue(action);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <summary>The roles of a PUT or PATCH body, each checked; null with the problem when any is not acceptable.</summary>
    internal static List<RoleDefinitionEntry>? Parse(ReadOnlySpan<byte> json, out string? problem)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("roles", out var array) ||
                array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                problem = "The body is {\"roles\":[{\"roleName\":…,\"roleActions\":[…]}]} with at least one role.";
                return null;
            }

            var roles = new List<RoleDefinitionEntry>();
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object ||
                    !(item.TryGetProperty("roleName", out var name) || item.TryGetProperty("role_name", out name)) || name.ValueKind != JsonValueKind.String ||
                    !(item.TryGetProperty("roleActions", out var actions) || item.TryGetProperty("role_actions", out actions)) || actions.ValueKind != JsonValueKind.Array)
                {
                    problem = "Each role has roleName (a string) and roleActions (an array of strings).";
                    return null;
                }

                var roleName = name.GetString()!;
                if (NameProblem(roleName) is { } nameProblem)
                {
                    problem = nameProblem;
                    return null;
                }

                if (roles.Any(r => string.Equals(r.RoleName, roleName, StringComparison.OrdinalIgnoreCase)))
                {
                    problem = $"The role '{roleName}' is named twice.";
                    return null;
                }

                var list = new List<string>();
                foreach (var action in actions.EnumerateArray())
                {
                    if (action.ValueKind != JsonValueKind.String || action.GetString() is not { Length: > 0 } text ||
                        System.Text.Encoding.UTF8.GetByteCount(text) > MaxActionBytes || text.Any(char.IsControl))
                    {
                        problem = $"An action of '{roleName}' is not a string of 1 to {MaxActionBytes} bytes without control characters.";
                        return null;
                    }

                    if (!list.Contains(text))
                    {
                        list.Add(text);
                    }
                }

                if (list.Count is 0 or > MaxActions)
                {
                    problem = $"The role '{roleName}' lists 1 to {MaxActions} actions (delete a role with DELETE /app/roles?roleName=…).";
                    return null;
                }

                roles.Add(new RoleDefinitionEntry(roleName, list));
            }

            problem = null;
            return roles;
        }
        catch (JsonException ex)
        {
            problem = $"The body is not JSON: {ex.Message}";
            return null;
        }
    }

    /// <summary>Why <paramref name="name"/> cannot name a user-defined role, or null.</summary>
    private static string? NameProblem(string name)
    {
        if (name.Length is 0 or > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return $"A role name is 1 to {MaxNameLength} characters of A-Z, a-z, 0-9, '-', '_' and '.'.";
        }

        return Roles.IsBuiltIn(name) ? $"'{name}' is a built-in role (Administrator, Contributor, Reader), which cannot be redefined." : null;
    }
}
