using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vellum.Core.Identity;
using Vellum.Node.Ledgers;
using Vellum.Node.Service;

namespace Vellum.Node.Management;

/// <summary>Creating, changing and deleting ledgers: the control plane's writes.</summary>
public sealed partial class ManagementApi
{
    /// <summary>
    /// PUT creates the ledger (201 <c>Creating</c> with <c>Azure-AsyncOperation</c>; the creation runs on) or, for a
    /// ledger of this tenant, subscription and resource group, changes it as PATCH does (200). PATCH takes the whole
    /// resource: tags, location and principals change (those the body leaves out are kept); the type cannot.
    /// </summary>
    private async Task PutAsync(HttpContext context, OperatorCaller caller, string subscription, string resourceGroup, LedgerName name, bool isPatch)
    {
        using var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return;
        }

        var (request, parseError) = ParseBody(body.RootElement);
        if (request is null)
        {
            await Error(context, 400, "InvalidRequestContent", parseError!).ConfigureAwait(false);
            return;
        }

        if (await ForwardedAsync(context, caller).ConfigureAwait(false))
        {
            return;
        }

        var existing = Find(name);
        if (existing is ({ } current, var state))
        {
            if (!current.IsAt(caller.TenantId, subscription, resourceGroup))
            {
                // PATCH changes what the caller can see (another's is not found); PUT would make it, and the name is taken.
                await (isPatch
                    ? ResourceNotFound(context, resourceGroup, name)
                    : Error(context, 409, "Conflict", $"The name '{name}' is taken: ledger names are unique across the deployment.")).ConfigureAwait(false);
                return;
            }

            if (state != "Succeeded")
            {
                await Error(context, 409, "Conflict", $"The ledger '{name}' is {state.ToLowerInvariant()}; try again when that operation ends.").ConfigureAwait(false);
                return;
            }

            await UpdateAsync(context, caller, current, request).ConfigureAwait(false);
            return;
        }

        if (isPatch)
        {
            await ResourceNotFound(context, resourceGroup, name).ConfigureAwait(false);
            return;
        }

        await CreateAsync(context, caller, subscription, resourceGroup, name, request).ConfigureAwait(false);
    }

    private async Task CreateAsync(HttpContext context, OperatorCaller caller, string subscription, string resourceGroup, LedgerName name, ResourceRequest request)
    {
        var now = DateTimeOffset.UtcNow;
        if (request.Location is not { } location)
        {
            await Error(context, 400, "InvalidRequestContent", "The body names no location (\"location\": 1 to 64 characters), which every ledger resource has.").ConfigureAwait(false);
            return;
        }

        var operation = new ManagementOperation(ManagementOperation.NewId(OperationKind.Create, name.Value), OperationKind.Create, name.Value, subscription, caller.TenantId, location, now);
        var aad = request.AadPrincipals;
        var certificates = request.CertPrincipals;
        if (!request.NamesAdministrator)
        {
            // ACL's rule: a ledger made without an Administrator gets its creator as one.
            if (caller.CertificatePem is { } pem)
            {
                certificates = [.. certificates, new CertPrincipal(pem, Roles.Administrator)];
            }
            else
            {
                aad = [.. aad, new AadPrincipal(caller.Id, caller.TenantId, Roles.Administrator)];
            }
        }

        var resource = new LedgerResource
        {
            Name = name, SubscriptionId = subscription, ResourceGroup = resourceGroup, TenantId = caller.TenantId, Location = location,
            IsPrivate = request.IsPrivate ?? false, Tags = request.Tags ?? new Dictionary<string, string>(), AadPrincipals = aad, CertPrincipals = certificates,
            CreatedBy = caller.Id, CreatedByType = caller.IdType, CreatedAt = now, LastModifiedBy = caller.Id, LastModifiedByType = caller.IdType, LastModifiedAt = now,
            OperationId = operation.Id,
        };

        string? refusal = null;
        lock (_reserving)
        {
            if (IsTaken(name))
            {
                refusal = $"The name '{name}' is taken: ledger names are unique across the deployment, whatever the type.";
            }
            else if (Resources().Count(r => string.Equals(r.Resource.TenantId, caller.TenantId, StringComparison.OrdinalIgnoreCase)) >= _settings.LedgerQuota)
            {
                refusal = "quota";
            }
            else
            {
                _busy[name.Value] = (operation, resource);
            }
        }

        if (refusal == "quota")
        {
            await Error(context, 409, "QuotaExceeded", $"The tenant has {_settings.LedgerQuota} ledgers, its quota here; delete one first.").ConfigureAwait(false);
            return;
        }

        if (refusal is not null)
        {
            await Error(context, 409, "Conflict", refusal).ConfigureAwait(false);
            return;
        }

        Begin(operation, caller, () => CreateInBackgroundAsync(operation, resource));
        SetPollHeaders(context, operation, asyncOperation: true);
        await Json(context, 201, writer => WriteResource(writer, resource, "Creating", LedgerPortOf(context))).ConfigureAwait(false);
    }

    private async Task CreateInBackgroundAsync(ManagementOperation operation, LedgerResource resource)
    {
        await Task.Yield();
        try
        {
            var ledger = await _ledgers.CreateAsync(new LedgerSpec(resource.Name, resource.IsPrivate) { Resource = resource }, _stopping.Token).ConfigureAwait(false);

            // Its first users (the principals) are committed before the creation is reported done: on a cluster the
            // primary makes them once it leads the new ledger, a moment after the creation is applied.
            var deadline = DateTime.UtcNow + FirstUsersTimeout;
            while (ledger.Users.Count == 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"The ledger '{resource.Name}' got no users within {FirstUsersTimeout.TotalSeconds} s.");
                }

                await Task.Delay(10, _stopping.Token).ConfigureAwait(false);
            }

            await ledger.FirstUsers.WaitAsync(FirstUsersTimeout, _stopping.Token).ConfigureAwait(false);
            Finish(operation, null);
        }
        catch (LedgerExistsException ex)
        {
            Finish(operation, ("Conflict", ex.Message));
        }
        catch (LedgerStagingException ex)
        {
            Finish(operation, ("MembersUnavailable", ex.Message));
        }
        catch (Exception ex)
        {
            LogMessages.ManagementOperationFailed(_logger, operation.Kind.ToString(), operation.LedgerName, operation.Id, ex);
            Finish(operation, ("InternalServerError", "The ledger could not be made; see the node's log. Nothing of it is served."));
            if (_ledgers.TryGet(operation.LedgerName, out var half) && LedgerResource.Read(half.Folder.ResourceFile)?.OperationId == operation.Id)
            {
                // Made, but its first users are not: a ledger nobody can use is not served.
                await ((Task)_ledgers.DeleteAsync(resource.Name, $"the control plane (failed creation {operation.Id})", CancellationToken.None)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        finally
        {
            _busy.TryRemove(operation.LedgerName, out _);
        }
    }

    private async Task UpdateAsync(HttpContext context, OperatorCaller caller, LedgerResource current, ResourceRequest request)
    {
        if (request.IsPrivate is { } isPrivate && isPrivate != current.IsPrivate)
        {
            await Error(context, 400, "LedgerTypeImmutable",
                $"The ledger '{current.Name}' is {(current.IsPrivate ? "Private" : "Public")}; a ledger's type is fixed when it is made.").ConfigureAwait(false);
            return;
        }

        if (!_ledgers.TryGet(current.Name.Value, out var ledger))
        {
            await ResourceNotFound(context, current.ResourceGroup, current.Name).ConfigureAwait(false);
            return;
        }

        await _changing.WaitAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            await ChangeAsync(context, caller, current, ledger, request).ConfigureAwait(false);
        }
        finally
        {
            _changing.Release();
        }
    }

    private async Task ChangeAsync(HttpContext context, OperatorCaller caller, LedgerResource current, LedgerService ledger, ResourceRequest request)
    {
        // The resource as it is now: another change may have ended while this one waited. A body that names no
        // principals, tags or location keeps them (Terraform and the SDKs send them back; a tags-only change need not).
        current = LedgerResource.Read(ledger.Folder.ResourceFile) ?? current;
        var changed = current with
        {
            Location = request.Location ?? current.Location, Tags = request.Tags ?? current.Tags,
            AadPrincipals = request.NamesPrincipals ? request.AadPrincipals : current.AadPrincipals,
            CertPrincipals = request.NamesPrincipals ? request.CertPrincipals : current.CertPrincipals,
            LastModifiedBy = caller.Id, LastModifiedByType = caller.IdType, LastModifiedAt = DateTimeOffset.UtcNow,
        };

        // The principals listed are given their roles; those the control plane gave before and no longer lists lose
        // theirs. Users made on the data plane are not the control plane's and stay. Checked before anything changes:
        // the ledger keeps an Administrator.
        var kept = changed.Users().Select(u => u.UserId).ToHashSet(StringComparer.Ordinal);
        var removed = current.Users().Select(u => u.UserId).Where(id => !kept.Contains(id)).ToHashSet(StringComparer.Ordinal);
        var administrators = ledger.Users.All().Where(u => u.Value.Contains(Roles.Administrator) && !removed.Contains(u.Key) && !kept.Contains(u.Key)).Select(u => u.Key)
            .Concat(changed.Users().Where(u => u.Role == Roles.Administrator).Select(u => u.UserId));
        if (!administrators.Any())
        {
            await Error(context, 409, "Conflict", "The change would leave the ledger without an Administrator; name one among the principals.").ConfigureAwait(false);
            return;
        }

        // Once begun, the change is carried through whether or not the caller waits for it.
        await ledger.AddPrincipalsAsync(changed, _stopping.Token).ConfigureAwait(false);
        foreach (var userId in removed)
        {
            if (await ledger.ChangeUserAsync(callerId: null, userId, [], _stopping.Token).ConfigureAwait(false) is { } refusal)
            {
                await Error(context, 409, "Conflict", $"The principal {userId} cannot be removed: {refusal.Message}").ConfigureAwait(false);
                return;
            }
        }

        await _ledgers.DescribeAsync(changed, _stopping.Token).ConfigureAwait(false);
        await Json(context, 200, writer => WriteResource(writer, changed, "Succeeded", LedgerPortOf(context))).ConfigureAwait(false);
    }

    private async Task DeleteAsync(HttpContext context, OperatorCaller caller, string subscription, string resourceGroup, LedgerName name)
    {
        if (Find(name) is not ({ } resource, var state) || !resource.IsAt(caller.TenantId, subscription, resourceGroup))
        {
            context.Response.StatusCode = 204; // ARM: deleting what does not exist succeeds
            return;
        }

        if (await ForwardedAsync(context, caller).ConfigureAwait(false))
        {
            return;
        }

        var operation = new ManagementOperation(ManagementOperation.NewId(OperationKind.Delete, name.Value), OperationKind.Delete, name.Value, subscription, caller.TenantId, resource.Location, DateTimeOffset.UtcNow);
        lock (_reserving)
        {
            if (state != "Succeeded" || !_busy.TryAdd(name.Value, (operation, resource)))
            {
                state = "busy";
            }
        }

        if (state == "busy")
        {
            await Error(context, 409, "Conflict", $"The ledger '{name}' is in an operation; try again when it ends.").ConfigureAwait(false);
            return;
        }

        Begin(operation, caller, () => DeleteInBackgroundAsync(operation, $"{caller.Id} (tenant {caller.TenantId}) through the control plane, operation {operation.Id}"));
        SetPollHeaders(context, operation, asyncOperation: true);
        SetPollHeaders(context, operation, asyncOperation: false);
        context.Response.StatusCode = 202;
    }

    private async Task DeleteInBackgroundAsync(ManagementOperation operation, string deletedBy)
    {
        await Task.Yield();
        try
        {
            await _ledgers.DeleteAsync(LedgerName.Parse(operation.LedgerName), deletedBy, _stopping.Token).ConfigureAwait(false);
            _resources.TryRemove(operation.LedgerName, out _);
            Finish(operation, null);
        }
        catch (LedgerNotFoundException)
        {
            _resources.TryRemove(operation.LedgerName, out _);
            Finish(operation, null);
        }
        catch (Exception ex)
        {
            LogMessages.ManagementOperationFailed(_logger, operation.Kind.ToString(), operation.LedgerName, operation.Id, ex);
            Finish(operation, ("InternalServerError", "The ledger could not be deleted; see the node's log, and delete it again."));
        }
        finally
        {
            _busy.TryRemove(operation.LedgerName, out _);
        }
    }

    private void Finish(ManagementOperation operation, (string Code, string Message)? error)
    {
        var done = operation with { Status = error is null ? "Succeeded" : "Failed", EndTime = DateTimeOffset.UtcNow, Error = error };
        try
        {
            _operations.Save(done);
        }
        catch (IOException ex)
        {
            // The outcome stands; a start judges the operation again from what the node holds.
            LogMessages.ManagementOperationFailed(_logger, operation.Kind.ToString(), operation.LedgerName, operation.Id, ex);
        }

        LogMessages.ManagementOperationEnded(_logger, operation.Kind.ToString(), operation.LedgerName, operation.Id, done.Status);
    }

    /// <summary>
    /// On a cluster, the control plane's changes are the primary's (they go through the consensus log): a backup sends
    /// the request on to the primary as the operator it authenticated, over the node channel, and relays the answer
    /// (503 when it knows no primary). True when the request was handled so; false on the primary, on a single node,
    /// and for a request a member sent here (never sent on again: 503 if this node is no longer primary).
    /// </summary>
    private async Task<bool> ForwardedAsync(HttpContext context, OperatorCaller caller)
    {
        if (_options.NodeListen is null || _ledgers.Identity is not { } identity || _ledgers.Membership is not { } membership || membership.IsPrimary)
        {
            return false;
        }

        context.Response.Headers.RetryAfter = "1";
        if (caller.FromMember || membership.PrimaryUrl is not { } primary)
        {
            await Error(context, 503, "NotPrimary", caller.FromMember
                ? "Another member sent this change here as to the primary, but this node is not primary (the primary changed); nothing was done. Retry shortly."
                : "This member is a backup and knows no primary yet; the control plane's changes are the primary's. Retry shortly.").ConfigureAwait(false);
            return true;
        }

        context.Response.Headers.Remove("Retry-After");
        await identity.Forwarder(_options.ForwardTimeout, _logger).ForwardAsync(context, primary, DeploymentIdentity.ServerName,
        [
            new(DeploymentOperators.OperatorHeader, DeploymentOperators.Encode(caller)),
            new(ForwardedHostHeader, context.Request.Host.Value ?? string.Empty),
        ]).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Keeps <paramref name="operation"/> (its ledger already held in <see cref="_busy"/>, released if it cannot be
    /// kept) and runs <paramref name="work"/> in the background, tracked so that a stop waits for it.
    /// </summary>
    private void Begin(ManagementOperation operation, OperatorCaller caller, Func<Task> work)
    {
        try
        {
            _operations.Save(operation);
        }
        catch
        {
            _busy.TryRemove(operation.LedgerName, out _);
            throw;
        }

        LogMessages.ManagementOperationStarted(_logger, operation.Kind.ToString(), operation.LedgerName, caller.Id, operation.Id);
        var task = work();
        _running[task] = 0;
        _ = task.ContinueWith(t => _running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Operation <paramref name="id"/> as it stands: as kept here when it ended or runs here; otherwise (a stop cut it
    /// short, or another member ran it and failed) judged from the ledgers this node holds, by the id's kind and ledger
    /// (<see cref="ManagementOperation.NewId"/>). Null for an id that names no operation. A backup asks the primary
    /// instead, so the judge is the primary or a single node.
    /// </summary>
    private ManagementOperation? Current(ManagementOperation? known, string id, string subscription, string location, string callerTenant)
    {
        if (known is { IsDone: true } ||
            known is not null && _busy.TryGetValue(known.LedgerName, out var running) && running.Operation.Id == known.Id)
        {
            return known;
        }

        if (known is null)
        {
            if (!ManagementOperation.TryParseId(id, out var kind, out var ledgerName))
            {
                return null;
            }

            // What the node knows of the ledger says whose it is: its resource, else the tombstone of its last deletion.
            var resource = _ledgers.TryGet(ledgerName, out var held) ? LedgerResource.Read(held.Folder.ResourceFile) : null;
            var tenant = resource?.TenantId ?? _ledgers.Tombstones(ledgerName).MaxBy(t => t.DeletedAt)?.TenantId ?? callerTenant;
            known = new ManagementOperation(
                id, kind, ledgerName, resource?.SubscriptionId ?? subscription, tenant, resource?.Location ?? location,
                kind == OperationKind.Create && resource?.OperationId == id ? resource.CreatedAt : DateTimeOffset.UtcNow);
        }

        return Judge(known);
    }

    /// <summary>
    /// How an operation that does not run here ended, from what the node holds: a creation succeeded once the ledger it
    /// made (its resource names the operation) has its first users, and runs while that ledger waits for them (a new
    /// primary makes them); a deletion succeeded once a tombstone names it (its <c>deletedBy</c>), or the ledger is gone.
    /// Until this node has applied every entry its consensus log holds, an operation not seen done is still running (an
    /// earlier primary may have committed it); after that, it failed.
    /// </summary>
    private ManagementOperation Judge(ManagementOperation operation)
    {
        var ledger = _ledgers.TryGet(operation.LedgerName, out var held) && !held.IsClosing ? held : null;
        bool? succeeded; // null: still running
        if (operation.Kind == OperationKind.Create)
        {
            succeeded = ledger is not null && LedgerResource.Read(ledger.Folder.ResourceFile)?.OperationId == operation.Id
                ? ledger.Users.Count > 0 ? true : null
                : _ledgers.HasAppliedAll ? false : null;
        }
        else if (_ledgers.Tombstones(operation.LedgerName).Any(t => t.DeletedBy.EndsWith($"operation {operation.Id}", StringComparison.Ordinal)))
        {
            succeeded = true; // its tombstone, even when the name was made again since
        }
        else if (!_ledgers.TryGet(operation.LedgerName, out _))
        {
            succeeded = true;
        }
        else
        {
            succeeded = ledger is not null && _ledgers.HasAppliedAll ? false : null; // a ledger closing is being deleted
        }

        return succeeded switch
        {
            null => operation,
            true => operation with { Status = "Succeeded", EndTime = DateTimeOffset.UtcNow },
            false => operation with
            {
                Status = "Failed",
                EndTime = DateTimeOffset.UtcNow,
                Error = ("OperationInterrupted", operation.Kind == OperationKind.Create
                    ? "The node running the creation stopped before it was committed; no ledger was made. Create it again."
                    : "The node running the deletion stopped before it was committed; the ledger is still there. Delete it again."),
            },
        };
    }

    /// <summary>What a PUT or PATCH body asks for.</summary>
    /// <param name="Location">The resource's location; null when the body names none (required to create).</param>
    /// <param name="IsPrivate">The type asked for; null when the body names none.</param>
    /// <param name="Tags">The resource's tags; null when the body has no <c>tags</c>.</param>
    /// <param name="AadPrincipals">The principals named by object id.</param>
    /// <param name="CertPrincipals">The principals named by certificate.</param>
    /// <param name="NamesPrincipals">Whether the body has either principal list (a change without keeps them).</param>
    private sealed record ResourceRequest(
        string? Location, bool? IsPrivate, IReadOnlyDictionary<string, string>? Tags, IReadOnlyList<AadPrincipal> AadPrincipals, IReadOnlyList<CertPrincipal> CertPrincipals,
        bool NamesPrincipals)
    {
        public bool NamesAdministrator => AadPrincipals.Any(p => p.Role == Roles.Administrator) || CertPrincipals.Any(p => p.Role == Roles.Administrator);
    }

    /// <summary>The request a body makes, or null with what is wrong.</summary>
    private static (ResourceRequest? Request, string? Error) ParseBody(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, "The body is not a JSON object.");
        }

        string? location = null;
        if (root.TryGetProperty("location", out var locationElement) && locationElement.ValueKind != JsonValueKind.Null)
        {
            location = locationElement.ValueKind == JsonValueKind.String ? locationElement.GetString() : null;
            if (location is not { Length: > 0 and <= 64 })
            {
                return (null, "\"location\" is 1 to 64 characters.");
            }
        }

        Dictionary<string, string>? tags = null;
        if (root.TryGetProperty("tags", out var tagsElement) && tagsElement.ValueKind != JsonValueKind.Null)
        {
            tags = new Dictionary<string, string>(StringComparer.Ordinal);
            if (tagsElement.ValueKind != JsonValueKind.Object)
            {
                return (null, "\"tags\" is not an object of strings.");
            }

            foreach (var tag in tagsElement.EnumerateObject())
            {
                if (tag.Value.ValueKind != JsonValueKind.String || tag.Name.Length is 0 or > 512 || tag.Value.GetString()!.Length > 256)
                {
                    return (null, $"The tag '{tag.Name}' is not a name of 1 to 512 characters with a string value of at most 256.");
                }

                tags[tag.Name] = tag.Value.GetString()!;
            }

            if (tags.Count > MaxTags)
            {
                return (null, $"A ledger has at most {MaxTags} tags.");
            }
        }

        bool? isPrivate = null;
        List<AadPrincipal> aad = [];
        List<CertPrincipal> certificates = [];
        if (root.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            if (properties.TryGetProperty("ledgerType", out var type) && type.ValueKind != JsonValueKind.Null)
            {
                switch (type.GetString()?.ToUpperInvariant())
                {
                    case "PUBLIC": isPrivate = false; break;
                    case "PRIVATE": isPrivate = true; break;
                    default: return (null, $"\"ledgerType\" is Public or Private, not {type.GetRawText()}.");
                }
            }

            if (properties.TryGetProperty("aadBasedSecurityPrincipals", out var aadElement) && aadElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var principal in aadElement.EnumerateArray())
                {
                    var id = principal.TryGetProperty("principalId", out var p) ? p.GetString() : null;
                    var tenant = principal.TryGetProperty("tenantId", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    var role = principal.TryGetProperty("ledgerRoleName", out var r) ? r.GetString() : null;
                    if (!Guid.TryParse(id, out var guid) || (tenant is not null && !Guid.TryParse(tenant, out _)) || !LedgerResource.IsGivenRole(role))
                    {
                        return (null, "Each of \"aadBasedSecurityPrincipals\" has a principalId (a GUID), an optional tenantId (a GUID) and a ledgerRoleName (Administrator, Contributor or Reader).");
                    }

                    aad.Add(new AadPrincipal(guid.ToString("D"), tenant is null ? null : Guid.Parse(tenant).ToString("D"), role!));
                }
            }

            if (properties.TryGetProperty("certBasedSecurityPrincipals", out var certElement) && certElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var principal in certElement.EnumerateArray())
                {
                    var role = principal.TryGetProperty("ledgerRoleName", out var r) ? r.GetString() : null;
                    var pem = principal.TryGetProperty("cert", out var c) ? NormalisePem(c.GetString()) : null;
                    if (pem is null || !LedgerResource.IsGivenRole(role))
                    {
                        return (null, "Each of \"certBasedSecurityPrincipals\" has a cert (a PEM certificate) and a ledgerRoleName (Administrator, Contributor or Reader).");
                    }

                    certificates.Add(new CertPrincipal(pem, role!));
                }
            }
        }

        var ids = aad.Select(p => p.PrincipalId).Concat(certificates.Select(p => p.UserId)).ToList();
        if (ids.Count > MaxPrincipals)
        {
            return (null, $"A ledger is given at most {MaxPrincipals} principals here.");
        }

        if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Count)
        {
            return (null, "A principal is listed twice.");
        }

        var namesPrincipals = root.TryGetProperty("properties", out var given) && given.ValueKind == JsonValueKind.Object &&
                              (given.TryGetProperty("aadBasedSecurityPrincipals", out _) || given.TryGetProperty("certBasedSecurityPrincipals", out _));
        return (new ResourceRequest(location, isPrivate, tags, aad, certificates, namesPrincipals), null);
    }

    /// <summary>A PEM certificate with its line breaks (ARM's examples send none), or null if it is not one.</summary>
    private static string? NormalisePem(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        const string Begin = "-----BEGIN CERTIFICATE-----", End = "-----END CERTIFICATE-----";
        var body = text.Trim();
        if (body.StartsWith(Begin, StringComparison.Ordinal) && body.EndsWith(End, StringComparison.Ordinal))
        {
            body = body[Begin.Length..^End.Length];
        }

        try
        {
            using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(string.Concat(body.Where(c => !char.IsWhiteSpace(c)))));
            return certificate.ExportCertificatePem() + "\n";
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return null;
        }
    }
}
