using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Vellum.Core.Identity;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>
/// The deployment's ledgers, managed by its operators (<see cref="Management.DeploymentOperators"/>) on requests that
/// name no ledger (see <see cref="LedgerRouting"/>), beside the control plane's ARM-shaped API: an Owner makes one
/// (<c>PUT /node/ledgers/{name}</c>) and deletes one for good (<c>DELETE /node/ledgers/{name}</c>), a Reader lists
/// them with what is kept of the deleted ones (<c>GET /node/ledgers</c>); a member applying a creation fetches the
/// material from another (<c>GET /node/ledgers/{name}/material</c>). Not in ACL's API.
/// </summary>
internal static class LedgerEndpoints
{
    private const int BodyLimit = 1024;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPut("/node/ledgers/{name}", Create).RequiresOperator(Management.OperatorRole.Owner)
            .Describe("Operator (Owner): make a ledger (body `{\"ledgerType\":\"Public|Private\"}`, Public when absent) on every member.", 201);
        app.MapDelete("/node/ledgers/{name}", Delete).RequiresOperator(Management.OperatorRole.Owner)
            .Describe("Operator (Owner): delete a ledger for good on every member (its files, keys and consensus-log copies); answers its tombstone.");
        app.MapGet("/node/ledgers", List).RequiresOperator(Management.OperatorRole.Reader)
            .Describe("Operator: the ledgers this node serves, with their types, and the tombstones of those deleted.");
        app.MapGet("/node/ledgers/{name}/material", Material).Requires(EndpointAccess.NodeCertificate)
            .Describe("Members only (a node certificate endorsed by the deployment identity): a ledger's material, for a member applying its creation.");
        app.MapPost("/node/ledgers/{name}/material", StageMaterial).Requires(EndpointAccess.NodeCertificate)
            .Describe("Members only: the creator of a ledger has this member fetch and stage its material (body: the creation it will propose) before it proposes it.");
    }

    private static async Task Create(HttpContext context)
    {
        if (await ManagedNameAsync(context).ConfigureAwait(false) is not { } name)
        {
            return;
        }

        bool? isPrivate = null;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            if (await RequestBody.ReadJsonAsync(context, BodyLimit).ConfigureAwait(false) is not { } body)
            {
                return;
            }

            try
            {
                using var document = JsonDocument.Parse(body.AsMemory());
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new JsonException("not an object");
                }

                if (document.RootElement.TryGetProperty("ledgerType", out var type))
                {
                    isPrivate = type.ValueKind == JsonValueKind.String ? type.GetString() switch { "Public" => false, "Private" => true, _ => null } : null;
                    if (isPrivate is null)
                    {
                        await AclResponses.Error(context, AclErrors.InvalidInput, "ledgerType is \"Public\" or \"Private\".").ConfigureAwait(false);
                        return;
                    }
                }
            }
            catch (JsonException)
            {
                await AclResponses.Error(context, AclErrors.InvalidInput, "The body is not a JSON object.").ConfigureAwait(false);
                return;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(body.Array!);
            }
        }

        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        LedgerService ledger;
        try
        {
            // A backup's NotPrimaryException is forwarded or redirected like any other write (see NodeHost).
            ledger = await registry.CreateAsync(new LedgerSpec(name, isPrivate ?? false), context.RequestAborted).ConfigureAwait(false);
        }
        catch (LedgerExistsException ex)
        {
            await AclResponses.Error(context, AclErrors.LedgerExists, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (LedgerStagingException ex)
        {
            await AclResponses.Error(context, AclErrors.ServiceUnavailable, ex.Message).ConfigureAwait(false);
            return;
        }

        var pem = ledger.Service.ExportCertificatePem();
        await AclResponses.Json(context, writer =>
        {
            writer.WriteString("name", ledger.Name.Value);
            writer.WriteString("ledgerType", ledger.IsPrivate ? "Private" : "Public");
            writer.WriteString("serviceCertificate", pem);
        }, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static async Task Delete(HttpContext context)
    {
        if (await ManagedNameAsync(context).ConfigureAwait(false) is not { } name)
        {
            return;
        }

        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        LedgerTombstone tombstone;
        try
        {
            // A backup's NotPrimaryException is forwarded or redirected like any other write (see NodeHost).
            tombstone = await registry.DeleteAsync(name, context.Features.Get<Management.OperatorCaller>()!.Id, context.RequestAborted).ConfigureAwait(false);
        }
        catch (LedgerNotFoundException ex)
        {
            await AclResponses.Error(context, AclErrors.LedgerNotFound, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (LedgerNotDeletableException ex)
        {
            await AclResponses.Error(context, AclErrors.LedgerNotDeletable, ex.Message).ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, tombstone.WriteFields).ConfigureAwait(false);
    }

    private static async Task List(HttpContext context)
    {
        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        var ledgers = registry.All;
        var deleted = registry.Tombstones();
        await AclResponses.Json(context, writer =>
        {
            writer.WriteStartArray("ledgers");
            foreach (var ledger in ledgers)
            {
                if (ledger.IsClosing)
                {
                    continue;
                }

                writer.WriteStartObject();
                writer.WriteString("name", ledger.Name.Value);
                writer.WriteString("ledgerType", ledger.IsPrivate ? "Private" : "Public");
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteStartArray("deleted");
            foreach (var tombstone in deleted)
            {
                writer.WriteStartObject();
                tombstone.WriteFields(writer);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }).ConfigureAwait(false);
    }

    private static async Task Material(HttpContext context)
    {
        if (!await IsMemberAsync(context).ConfigureAwait(false))
        {
            return;
        }

        var text = (string?)context.Request.RouteValues["name"];
        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        if (!LedgerName.TryParse(text, out var name, out _))
        {
            await AclResponses.Error(context, AclErrors.LedgerNotFound, $"No ledger '{text}' here, made or being made.").ConfigureAwait(false);
            return;
        }

        // The member names the ledger it wants by its certificate's digest (from the creation in the log, or the ledger
        // it serves): a ledger of that name made again since is not that one. The 410 then carries the deletion's
        // tombstone, which a member that missed the deletion keeps. Without a digest (a snapshot named the ledger), 410
        // when a ledger of the name was deleted here and none is served or being made.
        var asked = context.Request.Query["digest"].ToString();
        if (asked.Length > 0 && Vellum.Core.Primitives.Hash32.TryParseHex(asked, out var digest) && registry.IsDeleted(name, digest))
        {
            var tombstone = registry.TombstoneOf(name, digest);
            await AclResponses.Json(context, writer =>
            {
                writer.WriteStartObject("error");
                writer.WriteString("code", AclErrors.LedgerDeleted.Code);
                writer.WriteString("message", $"The ledger '{name}' was deleted.");
                writer.WriteEndObject();
                if (tombstone is not null)
                {
                    writer.WriteStartObject("tombstone");
                    tombstone.WriteFields(writer);
                    writer.WriteEndObject();
                }
            }, AclErrors.LedgerDeleted.Status).ConfigureAwait(false);
            return;
        }

        if (asked.Length == 0 && registry.IsDeleted(name))
        {
            await AclResponses.Error(context, AclErrors.LedgerDeleted, $"The ledger '{name}' was deleted.").ConfigureAwait(false);
            return;
        }

        if (registry.MaterialOf(name) is not { } material)
        {
            await AclResponses.Error(context, AclErrors.LedgerNotFound, $"No ledger '{text}' here, made or being made.").ConfigureAwait(false);
            return;
        }

        await AclResponses.Json(context, material.WriteFields).ConfigureAwait(false);
    }

    private static async Task StageMaterial(HttpContext context)
    {
        if (!await IsMemberAsync(context).ConfigureAwait(false))
        {
            return;
        }

        var text = (string?)context.Request.RouteValues["name"];
        if (!LedgerName.TryParse(text, out var name, out var nameError))
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"'{text}' is not a ledger name: {nameError}.").ConfigureAwait(false);
            return;
        }

        if (await RequestBody.ReadJsonAsync(context, BodyLimit, "application/octet-stream").ConfigureAwait(false) is not { } segment)
        {
            return;
        }

        var body = segment.AsSpan().ToArray();
        System.Buffers.ArrayPool<byte>.Shared.Return(segment.Array!);

        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        try
        {
            if (!await registry.StageForCreatorAsync(name, body, context.RequestAborted).ConfigureAwait(false))
            {
                await AclResponses.Error(context, AclErrors.LedgerExists, $"The ledger '{name}' served or given here is not the one this creation makes.").ConfigureAwait(false);
                return;
            }
        }
        catch (InvalidDataException ex)
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await AclResponses.Error(context, AclErrors.ServiceUnavailable, $"The material of the ledger '{name}' could not be fetched in time.").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>
    /// Whether the caller is a member (a current certificate endorsed by the deployment identity, of a node key not
    /// retired); answered when not.
    /// </summary>
    private static async Task<bool> IsMemberAsync(HttpContext context)
    {
        var registry = context.RequestServices.GetRequiredService<LedgerRegistry>();
        var certificate = await ClientIdentity.CertificateAsync(context).ConfigureAwait(false);
        if (certificate is null)
        {
            await AclResponses.Error(context, AclErrors.InvalidAuthenticationInfo, "Only members ask for a ledger's material: present a node certificate (mutual TLS).").ConfigureAwait(false);
            return false;
        }

        // The node channel's trust: a certificate the deployment identity endorsed, of a node key not retired.
        if (!registry.IsMember(certificate))
        {
            await AclResponses.Error(context, AclErrors.Forbidden, "Only members ask for a ledger's material: this certificate is not a current certificate of the deployment identity (or its node was retired).").ConfigureAwait(false);
            return false;
        }

        return true;
    }

    /// <summary>The ledger a management call names in its path; null when refused (400 <c>InvalidInput</c>).</summary>
    private static async Task<LedgerName?> ManagedNameAsync(HttpContext context)
    {
        var text = (string?)context.Request.RouteValues["name"];
        if (!LedgerName.TryParse(text, out var name, out var nameError))
        {
            await AclResponses.Error(context, AclErrors.InvalidInput, $"'{text}' is not a ledger name: {nameError}.").ConfigureAwait(false);
            return null;
        }

        return name;
    }
}
