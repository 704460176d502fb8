using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Vellum.Consensus;
using Vellum.Core.Identity;
using Vellum.Core.Primitives;
using Vellum.Node.Service;
using Vellum.Storage;
using Vellum.Storage.Ledger;

namespace Vellum.Node.Ledgers;

/// <summary>A ledger of that name exists (or its creation already holds): names are unique across the deployment.</summary>
public sealed class LedgerExistsException(string message) : InvalidOperationException(message);

/// <summary>Too few members took a new ledger's material for its creation to be proposed; nothing was made.</summary>
public sealed class LedgerStagingException(string message) : InvalidOperationException(message);

/// <summary>
/// Making a ledger while the node runs. The material (service identity, ledger secret, type) is made in the node's
/// <c>staged/</c> folder, then adopted into <c>ledgers/</c> with one rename: on a single node at once; on a cluster once
/// the consensus log has committed the creation (<see cref="ConsensusGroup.ProposeLedgerAsync"/>, with a
/// <see cref="LedgerCreation"/> that holds no secret), when every member applies it: the creator adopts what it staged,
/// every other member fetches the material from a member that has it (<c>GET /node/ledgers/{name}/material</c>, node
/// certificates both ways) and checks it against the certificate digest in the log. The entries of the new ledger
/// follow its creation in the log, so every member has it before the first of them.
/// </summary>
/// <remarks>
/// Before it proposes the creation, the creator has a majority of the members stage the material
/// (<c>POST /node/ledgers/{name}/material</c>, which makes the member fetch it): a committed creation whose material
/// only its creator held would stop every member's log at that entry for as long as the creator stayed down.
/// </remarks>
public sealed partial class LedgerRegistry : IGroupLedgers
{
    private readonly SemaphoreSlim _creating = new(1, 1); // one creation or deletion at a time
    private readonly SemaphoreSlim _staging = new(1, 1); // the staged folders: one staging or adoption at a time
    private readonly ConcurrentDictionary<string, TaskCompletionSource<LedgerService>> _awaited = new(StringComparer.Ordinal);

    /// <summary>How long a creation on a cluster waits for its entry to commit and be applied here.</summary>
    private static readonly TimeSpan CreationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a creator waits for a majority of the members to stage a new ledger's material, and a member to fetch it.</summary>
    private static readonly TimeSpan StagingTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Makes ledger <paramref name="spec"/> (Public unless it says Private) and serves it: on a single node at once; on
    /// a cluster through the consensus log (primary only), returning once this member serves it — every member does so
    /// when it applies the creation. The deployment's Administrators (<c>--admin-cert</c>, or the development one)
    /// become its first users, as for a ledger made at start.
    /// </summary>
    /// <exception cref="LedgerExistsException">The name is taken (any case), here or by a creation that committed first.</exception>
    /// <exception cref="NotPrimaryException">A cluster member that is not the primary (a write like any other).</exception>
    public async Task<LedgerService> CreateAsync(LedgerSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        await _creating.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (TryGet(spec.Name.Value, out _))
            {
                throw new LedgerExistsException($"The ledger '{spec.Name}' exists.");
            }

            var isPrivate = spec.IsPrivate ?? false;
            if (_group is null)
            {
                if (_rollOwed)
                {
                    // A deletion's node-log move failed: it must work before a ledger may take a deleted one's name.
                    await RollNodeLogAsync().ConfigureAwait(false);
                }

                var folder = _data.Ledger(spec.Name);
                if (!folder.Exists)
                {
                    var staged = _data.StageNew(spec.Name, isPrivate);
                    spec.Resource?.Write(staged.ResourceFile); // adopted with the material, in the same rename
                    _data.Adopt(spec.Name);
                }
                else if (folder.StoredIsPrivate() != isPrivate)
                {
                    // Adopted by a creation whose opening failed (served at the next start anyway): only the same
                    // creation may finish it.
                    throw new LedgerExistsException($"The ledger '{spec.Name}' exists (made by an earlier creation that did not finish opening, as {(isPrivate ? "Public" : "Private")}).");
                }

                var ledger = await LedgerService.OpenAsync(_options, _data, spec, _parts, cancellationToken).ConfigureAwait(false);
                Add(ledger);
                return ledger;
            }

            return await CreateReplicatedAsync(spec.Name, isPrivate, spec.Resource, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _creating.Release();
        }
    }

    private async Task<LedgerService> CreateReplicatedAsync(LedgerName name, bool isPrivate, Management.LedgerResource? resource, CancellationToken cancellationToken)
    {
        await EnsureReadyLeaderAsync(cancellationToken).ConfigureAwait(false);

        Hash32 digest;
        await _staging.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var staged = _data.StageNew(name, isPrivate);
            resource?.Write(staged.ResourceFile); // the members receive it with the material
            digest = LedgerCreation.DigestOf(File.ReadAllText(staged.ServiceCertificate));
        }
        finally
        {
            _staging.Release();
        }

        var creation = new LedgerCreation(isPrivate, digest, _options.ClientUrl);
        await StageAtMajorityAsync(name, creation, cancellationToken).ConfigureAwait(false);
        var awaited = _awaited.GetOrAdd(name.Value, _ => new TaskCompletionSource<LedgerService>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CreationTimeout);
            try
            {
                await _group!.ProposeLedgerAsync(name.Value, creation.Encode(), timeout.Token).ConfigureAwait(false);
            }
            catch (ConsensusNotLeaderException ex)
            {
                throw new NotPrimaryException(ex.Message, ex);
            }

            var ledger = await awaited.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            return LedgerCreation.DigestOf(ledger.Service.Certificate) == digest
                ? ledger
                : throw new LedgerExistsException($"The ledger '{name}' was made by another creation that committed first.");
        }
        finally
        {
            _awaited.TryRemove(new KeyValuePair<string, TaskCompletionSource<LedgerService>>(name.Value, awaited));
        }
    }

    /// <inheritdoc />
    async ValueTask<bool> IGroupLedgers.OpenLedgerAsync(string name, ReadOnlyMemory<byte> description, CancellationToken token)
    {
        if (!LedgerName.TryParse(name, out var ledgerName, out var nameError) || ledgerName.Value != name)
        {
            throw new InvalidDataException($"The consensus log makes a ledger named '{name}': {nameError ?? "not in its canonical form"}.");
        }

        LedgerCreation? creation = null;
        if (!description.IsEmpty && !LedgerCreation.TryDecode(description.Span, out creation, out var error))
        {
            throw new InvalidDataException($"The consensus log's creation of the ledger '{name}' is damaged: {error}.");
        }

        if (TryGet(name, out var served))
        {
            return await ServedAlreadyAsync(served, creation, token).ConfigureAwait(false);
        }

        if (creation is not null && IsDeleted(ledgerName, creation.ServiceCertificateDigest))
        {
            // A replay of a creation whose deletion this node applied already: its entries are skipped.
            return false;
        }

        await WaitForErasureAsync(name).ConfigureAwait(false);
        var folder = _data.Ledger(ledgerName);
        if (!folder.Exists)
        {
            await _staging.WaitAsync(token).ConfigureAwait(false);
            try
            {
                if (!await StagedOrFetchedAsync(ledgerName, creation, token).ConfigureAwait(false))
                {
                    return false;
                }

                _data.Adopt(ledgerName);
            }
            finally
            {
                _staging.Release();
            }
        }
        else if (creation is not null && !Matches(folder, creation))
        {
            throw new InvalidDataException($"The consensus log makes the ledger '{name}', and this node holds another ledger of that name.");
        }

        var ledger = await LedgerService.OpenAsync(_options, _data, new LedgerSpec(ledgerName, null), _parts, token, madeByLog: true).ConfigureAwait(false);
        Add(ledger);
        return true;
    }

    /// <summary>
    /// Has the other members stage the material of the creation this node is about to propose, and returns once a
    /// majority of the members (this one included) hold it, so that the creation, once committed, never waits for one
    /// member. Members that answer late go on staging in the background.
    /// </summary>
    /// <exception cref="LedgerStagingException">Too few members took the material within <see cref="StagingTimeout"/>: nothing was proposed.</exception>
    private async Task StageAtMajorityAsync(LedgerName name, LedgerCreation creation, CancellationToken cancellationToken)
    {
        var members = _group!.Log?.Members ?? [];
        var needed = members.Count / 2; // a majority, less this member
        if (needed == 0)
        {
            return;
        }

        var channel = Identity ?? throw new InvalidOperationException("Only a cluster member asks the members for a ledger's material.");
        var peers = Membership!.Peers;
        var others = members.Where(m => !m.IsLocal).Select(m => m.EndPoint.ToString()).ToHashSet(StringComparer.Ordinal);
        var urls = peers.Where(p => others.Contains(p.Key)).Select(p => p.Value).Distinct().ToList();
        var client = channel.PeerClient();
        var body = creation.Encode();
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StagingTimeout);
        var asks = urls.Select(async url =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, $"/node/ledgers/{name.Value}/material"))
                {
                    Content = new ByteArrayContent(body) { Headers = { ContentType = new("application/octet-stream") } },
                };
                request.Headers.Host = DeploymentIdentity.HostOn(url);
                using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
                return response.IsSuccessStatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return false;
            }
        }).ToList();
        _ = Task.WhenAll(asks).ContinueWith(_ => timeout.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        var staged = 0;
        while (staged < needed && asks.Count > 0)
        {
            var answered = await Task.WhenAny(asks).ConfigureAwait(false);
            asks.Remove(answered);
            staged += await answered.ConfigureAwait(false) ? 1 : 0;
        }

        if (staged < needed)
        {
            throw new LedgerStagingException(
                $"Only {staged + 1} of {members.Count} members took the material of the ledger '{name}' within {StagingTimeout.TotalSeconds} s (a majority must before its creation is proposed); nothing was made.");
        }
    }

    /// <summary>
    /// A creator asks this member to stage the material of the creation <paramref name="description"/> it is about to
    /// propose (<see cref="StageAtMajorityAsync"/>): fetched from the creator and checked as an applied creation's
    /// would be. True once staged (or served already); false when the material is not that creation's ledger's.
    /// </summary>
    /// <exception cref="InvalidDataException">The description is damaged.</exception>
    /// <exception cref="OperationCanceledException">Not fetched within <see cref="StagingTimeout"/>.</exception>
    internal async Task<bool> StageForCreatorAsync(LedgerName name, ReadOnlyMemory<byte> description, CancellationToken cancellationToken)
    {
        if (!LedgerCreation.TryDecode(description.Span, out var creation, out var error))
        {
            throw new InvalidDataException($"The creation is damaged: {error}.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StagingTimeout);
        await _staging.WaitAsync(timeout.Token).ConfigureAwait(false);
        try
        {
            // Adopted already (the creation committed and this member applied it, which adopts under the same lock,
            // before this late request): nothing to stage, or a staged copy would outlive the creation.
            var folder = _data.Ledger(name);
            if (folder.Exists)
            {
                return Matches(folder, creation);
            }

            return await StagedOrFetchedAsync(name, creation, timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            _staging.Release();
        }
    }

    /// <summary>
    /// True once the material of the ledger <paramref name="creation"/> makes (with none, of the name's) is staged here:
    /// staged already, or fetched from the members (<see cref="FetchMaterialAsync"/>). Caller holds <see cref="_staging"/>.
    /// </summary>
    private async Task<bool> StagedOrFetchedAsync(LedgerName name, LedgerCreation? creation, CancellationToken token)
    {
        var staged = _data.Staged(name);
        return staged.Exists && (creation is null || Matches(staged, creation)) || await FetchMaterialAsync(name, creation, token).ConfigureAwait(false);
    }

    /// <summary>
    /// A creation of a name this node serves: a replay of the served ledger's own (true); one of an earlier ledger of
    /// the name, deleted since, which this node knows by its tombstone or a member by its own (false: its entries are
    /// skipped); or a second creation of the name, which changes nothing (true: the entries that follow are the served
    /// ledger's), and whose caller, if it waits here, learns that another creation holds.
    /// </summary>
    private async Task<bool> ServedAlreadyAsync(LedgerService served, LedgerCreation? creation, CancellationToken token)
    {
        if (creation is null || LedgerCreation.DigestOf(served.Service.Certificate) == creation.ServiceCertificateDigest)
        {
            return true;
        }

        if (IsDeleted(served.Name, creation.ServiceCertificateDigest) || (await DeletedAtMembersAsync(served.Name, creation.ServiceCertificateDigest, token).ConfigureAwait(false)).Deleted)
        {
            return false;
        }

        LogMessages.LedgerCreationIgnored(_logger, served.Name.Value);
        if (_awaited.TryGetValue(served.Name.Value, out var awaited))
        {
            awaited.TrySetResult(served);
        }

        return true;
    }

    /// <summary>
    /// Whether any member knows the ledger of <paramref name="name"/> whose service certificate has
    /// <paramref name="digest"/> as deleted (answers 410 for its material), with the tombstone that member keeps (null
    /// if it sent none): asks every member once, and again with a growing pause while none answers at all.
    /// </summary>
    private async Task<(bool Deleted, LedgerTombstone? Tombstone)> DeletedAtMembersAsync(LedgerName name, Hash32 digest, CancellationToken token)
    {
        var channel = Identity ?? throw new InvalidOperationException("Only a cluster member asks the members for a ledger's material.");
        var peers = Membership!.Peers;
        var client = channel.PeerClient();
        for (var attempt = 1; ; attempt++)
        {
            var urls = peers.Values.Distinct().ToList();
            if (urls.Count == 0)
            {
                return (false, null); // a member alone: its own tombstones are all there is to know
            }

            var answered = false;
            foreach (var url in urls)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, $"/node/ledgers/{name.Value}/material?digest={digest}"));
                    request.Headers.Host = DeploymentIdentity.HostOn(url);
                    using var response = await client.SendAsync(request, token).ConfigureAwait(false);
                    if (response.StatusCode == System.Net.HttpStatusCode.Gone)
                    {
                        return (true, await TombstoneInAsync(response, token).ConfigureAwait(false));
                    }

                    answered = true;
                }
                catch (Exception ex) when (ex is HttpRequestException || ex is TaskCanceledException && !token.IsCancellationRequested)
                {
                }
            }

            if (answered)
            {
                return (false, null);
            }

            LogMessages.LedgerMaterialUnavailable(_logger, name.Value, attempt, null);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6))), token).ConfigureAwait(false);
        }
    }

    /// <summary>The tombstone a member's 410 for a ledger's material carries (<c>tombstone</c>); null if none or unreadable.</summary>
    private static async Task<LedgerTombstone?> TombstoneInAsync(HttpResponseMessage response, CancellationToken token)
    {
        try
        {
            using var body = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false));
            return body.RootElement.TryGetProperty("tombstone", out var tombstone) && tombstone.ValueKind == JsonValueKind.Object
                ? LedgerTombstone.FromJson(System.Text.Encoding.UTF8.GetBytes(tombstone.GetRawText()))
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>Adds an open ledger to the lookups and to <see cref="All"/>, and wakes a creation waiting for it.</summary>
    private void Add(LedgerService ledger)
    {
        lock (_addLock)
        {
            if (!_byName.TryAdd(ledger.Name.Value, ledger))
            {
                throw new InvalidOperationException($"The ledger '{ledger.Name}' is open already.");
            }

            _all = [.. _all.Append(ledger).OrderBy(l => l.Name.Value, StringComparer.Ordinal)];
            if (ledger.Name == LedgerName.Default)
            {
                _default = ledger;
            }
        }

        LogMessages.LedgerCreated(_logger, ledger.Name.Value, ledger.IsPrivate ? "Private" : "Public", ledger.Folder.ServiceCertificate);
        if (_awaited.TryGetValue(ledger.Name.Value, out var awaited))
        {
            awaited.TrySetResult(ledger);
        }
    }

    private static bool Matches(LedgerDirectory folder, LedgerCreation creation) =>
        folder.StoredIsPrivate() == creation.IsPrivate && LedgerCreation.DigestOf(File.ReadAllText(folder.ServiceCertificate)) == creation.ServiceCertificateDigest;

    /// <summary>
    /// The material of a ledger the log makes, from the members (its creator first), staged once it checks: the service
    /// certificate has the digest the log names and the key matches it. Waits, trying again with a growing pause, until
    /// some member gives it or <paramref name="token"/> ends (applying waits with it: the entries that follow need it).
    /// False when the ledger was deleted since: a member keeps the tombstone of the creation's certificate (410), or,
    /// with no creation to name it (a snapshot), some members answer 410 and none gives the material in a round (a
    /// member that has not yet applied a later creation of the name may answer 410 for an earlier one).
    /// </summary>
    private async Task<bool> FetchMaterialAsync(LedgerName name, LedgerCreation? creation, CancellationToken token)
    {
        var channel = Identity ?? throw new InvalidOperationException("Only a cluster member asks the members for a ledger's material.");
        var peers = Membership!.Peers;
        var client = channel.PeerClient();
        for (var attempt = 1; ; attempt++)
        {
            var urls = peers.Values.Distinct().ToList();
            if (creation is not null)
            {
                urls.Remove(creation.Creator);
                urls.Insert(0, creation.Creator);
            }

            Exception? last = null;
            var gone = false;
            foreach (var url in urls)
            {
                try
                {
                    var query = creation is null ? string.Empty : $"?digest={creation.ServiceCertificateDigest}";
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, $"/node/ledgers/{name.Value}/material{query}"));
                    request.Headers.Host = DeploymentIdentity.HostOn(url);
                    using var response = await client.SendAsync(request, token).ConfigureAwait(false);
                    if (response.StatusCode == System.Net.HttpStatusCode.Gone)
                    {
                        if (creation is not null)
                        {
                            return false;
                        }

                        gone = true;
                        continue;
                    }

                    if (!response.IsSuccessStatusCode)
                    {
                        last = new HttpRequestException($"{url} answered {(int)response.StatusCode}");
                        continue;
                    }

                    var material = await response.Content.ReadFromJsonAsync<MaterialResponse>(token).ConfigureAwait(false)
                        ?? throw new JsonException("an empty body");
                    Stage(name, creation, material);
                    return true;
                }
                catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidDataException or ArgumentException ||
                                           ex is TaskCanceledException && !token.IsCancellationRequested)
                {
                    last = ex;
                }
            }

            if (gone)
            {
                return false;
            }

            LogMessages.LedgerMaterialUnavailable(_logger, name.Value, attempt, last);
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 << Math.Min(attempt, 6))), token).ConfigureAwait(false);
        }
    }

    private void Stage(LedgerName name, LedgerCreation? creation, MaterialResponse material)
    {
        if (material.ServiceCertificate is null || material.ServicePrivateKey is null || material.LedgerSecret is null || material.LedgerType is not ("Public" or "Private"))
        {
            throw new InvalidDataException("the material is incomplete");
        }

        if (material.LedgerSecret.Trim() is var secret && (secret.Length != 64 || !secret.All(char.IsAsciiHexDigit)))
        {
            throw new InvalidDataException("the ledger secret is not 64 hex digits");
        }

        using (ServiceIdentity.FromPem(material.ServiceCertificate, material.ServicePrivateKey))
        {
            // Throws unless the key is the certificate's.
        }

        if (creation is not null &&
            (LedgerCreation.DigestOf(material.ServiceCertificate) != creation.ServiceCertificateDigest || (material.LedgerType == "Private") != creation.IsPrivate))
        {
            throw new InvalidDataException("the material is not the ledger the consensus log made (another certificate or type)");
        }

        Management.LedgerResource? resource = null;
        if (material.Resource is { } json &&
            (!Management.LedgerResource.TryDecode(System.Text.Encoding.UTF8.GetBytes(json), out resource, out var resourceError) || resource.Name != name))
        {
            throw new InvalidDataException($"the material's resource is damaged: {resourceError ?? "another ledger's"}");
        }

        var staged = _data.Stage(name, material.ServiceCertificate, material.ServicePrivateKey, secret, material.LedgerType);
        resource?.Write(staged.ResourceFile);
    }

    /// <summary>What <c>GET /node/ledgers/{name}/material</c> answers (the join's per-ledger shape).</summary>
    internal sealed record MaterialResponse(string? ServiceCertificate, string? ServicePrivateKey, string? LedgerSecret, string? LedgerType, string? Resource = null);

    /// <summary>
    /// The material of ledger <paramref name="name"/> for a member that applies its creation: the served ledger's, or
    /// what this node staged for a creation it has not applied yet (the others may apply it first). Null when neither.
    /// </summary>
    internal LedgerMaterial? MaterialOf(LedgerName name)
    {
        if (TryGet(name.Value, out var served))
        {
            return served.Material();
        }

        var staged = _data.Staged(name);
        try
        {
            return staged.Exists ? LedgerMaterial.Of(staged) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // adopted (moved) while being read: the caller asks again
        }
    }
}
