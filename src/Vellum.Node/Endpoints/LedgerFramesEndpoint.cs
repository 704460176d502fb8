using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Vellum.Node.Auth;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Endpoints;

/// <summary>
/// <c>GET /node/ledger/frames?from=N</c>: the durable transactions from seqno N on, as raw frames (the ledger file
/// format's frames, <c>application/octet-stream</c>), at most <see cref="LedgerService.MaxFramesResponseBytes"/>
/// per response, for a member catching up (<see cref="LedgerService.CatchUpAsync"/>). Only callers presenting a node
/// certificate endorsed by the service identity are served: the frames of a Public ledger are plaintext. Headers
/// <c>x-vellum-last-seqno</c> (the last frame's seqno) and <c>x-vellum-durable-seqno</c> (this node's end). Not in
/// ACL's API.
/// </summary>
internal static class LedgerFramesEndpoint
{
    public static void Map(IEndpointRouteBuilder app) =>
        app.MapGet("/node/ledger/frames", context => Frames(context, LedgerRouting.Of(context))).Requires(EndpointAccess.NodeCertificate)
            .Describe("Members only (an endorsed node certificate): durable transactions from seqno `from` as ledger-format frames, for catching up.", 200, "from");

    private static async Task Frames(HttpContext context, LedgerService ledger)
    {
        var certificate = await ClientIdentity.CertificateAsync(context).ConfigureAwait(false);
        if (certificate is null)
        {
            await AclResponses.Error(context, AclErrors.InvalidAuthenticationInfo, "Only members fetch ledger frames: present a node certificate (mutual TLS).").ConfigureAwait(false);
            return;
        }

        if (!NodeCaller.IsEndorsedNode(context, certificate, ledger))
        {
            await AclResponses.Error(context, AclErrors.Forbidden, "Only members fetch ledger frames: this certificate is not a current node certificate of this service (or its node was retired).").ConfigureAwait(false);
            return;
        }

        if (!long.TryParse(context.Request.Query["from"], NumberStyles.None, CultureInfo.InvariantCulture, out var from) || from < 1)
        {
            await AclResponses.Error(context, AclErrors.InvalidQueryParameterValue, "from is the first seqno wanted, a whole number from 1.").ConfigureAwait(false);
            return;
        }

        var durable = ledger.Store.DurableSeqno;
        var frames = ledger.Store.ReadFrames(from, LedgerService.MaxFramesResponseBytes, out var last);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers[LedgerService.LastSeqnoHeader] = last.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers[LedgerService.DurableSeqnoHeader] = Math.Max(durable, last).ToString(CultureInfo.InvariantCulture);
        context.Response.ContentLength = frames.Length;
        await context.Response.Body.WriteAsync(frames, context.RequestAborted).ConfigureAwait(false);
    }
}
