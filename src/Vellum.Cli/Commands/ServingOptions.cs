using System.CommandLine;
using System.Net;
using Vellum.Node;

namespace Vellum.Cli.Commands;

/// <summary>
/// How a node serves the deployment: the flags (and <c>--config</c> / <c>VELLUM_…</c> settings) that <c>vellum start</c>
/// and <c>vellum join</c> share, so that a joined member is started exactly as any other. They matter on every member
/// alike: a backup forwards a write, and a member catches up, naming the ledger as <c>NAME.DOMAIN</c>, so every member
/// of a deployment serves under one <c>--domain</c>.
/// </summary>
internal sealed class ServingOptions
{
    public Option<string> Domain { get; } = new("--domain")
    {
        Description = "The deployment's domain: ledger NAME is served at NAME.DOMAIN (TLS server name and Host); the same on every member.",
        DefaultValueFactory = _ => "localhost",
    };

    public Option<string?> TlsCert { get; } = new("--tls-cert")
    {
        Description = "The deployment's TLS certificate (PEM, leaf then chain) for the server name DOMAIN; with --tls-key. Without it, a development CA in the data folder issues one.",
    };

    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "The private key (PEM) of --tls-cert's leaf." };

    public Option<string?> MetricsListen { get; } = new("--metrics-listen") { Description = "host:port of the Prometheus scrape endpoint (/metrics over HTTP); off when absent." };

    public Option<string?> BackupWrites { get; } = BackupWritesOption.Create();

    public Option<int> SnapshotInterval { get; } = SnapshotIntervalOption.Create();

    public Option<int> MaxSignaturesPerSecond { get; } = new("--max-signatures-per-second")
    {
        Description = "The most roots the node signs a second on its own cadence, over all its ledgers (1 to 10000): with more busy ledgers " +
            "than that allows every 100 ms, each signs less often (its transactions stay Pending longer) and the node spends less CPU on signatures.",
        DefaultValueFactory = _ => NodeOptions.DefaultMaxSignaturesPerSecond,
    };

    public Option<string?> JwtIssuer { get; } = new("--jwt-issuer")
    {
        Description = "Accept bearer tokens (JWT) from this OIDC issuer on every ledger: the token's iss must equal it ({tenantid} allowed once, for Entra ID). " +
            "Its keys come from its discovery document unless --jwt-jwks gives them.",
    };

    public Option<string?> JwtCa { get; } = new("--jwt-ca") { Description = "PEM certificates to trust for TLS to the issuer's discovery and key endpoints." };

    public Option<string[]> JwtAudience { get; } = new("--jwt-audience")
    {
        Description = "An audience tokens may carry (repeatable); replaces the defaults, https://confidential-ledger.azure.com and the ledger's own URI.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> JwtJwks { get; } = new("--jwt-jwks") { Description = "A JSON Web Key Set file of the issuer's keys (no discovery)." };

    public Option<string?> JwtUserClaim { get; } = new("--jwt-user-claim") { Description = "The claim naming the user (default oid, Entra ID's object id)." };

    public Option<string[]> AdminOid { get; } = new("--admin-oid")
    {
        Description = "A token user's id (an Entra object id, or the --jwt-user-claim value) made Administrator of every ledger the node creates (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> OperatorCert { get; } = new("--operator-cert")
    {
        Description = "A PEM certificate whose holder operates the control plane, as PEM or PEM:Owner or PEM:Reader (Owner when no role is given; repeatable). " +
            "With no --operator-cert or --operator-oid, the deployment's Administrators (--admin-cert, --admin-oid, or the development one) are Owners.",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string[]> OperatorOid { get; } = new("--operator-oid")
    {
        Description = "A token user's id (an Entra object id) that operates the control plane, as ID or ID:Owner or ID:Reader (repeatable).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<string?> Tenant { get; } = new("--tenant")
    {
        Description = "The tenant (a GUID) of certificate operators and of tokens without tid (default 00000000-0000-0000-0000-000000000000).",
    };

    public Option<string[]> ManagementAudience { get; } = new("--management-audience")
    {
        Description = "An audience control-plane tokens may carry (repeatable; replaces the defaults https://management.azure.com/ and the deployment's URL).",
        AllowMultipleArgumentsPerToken = false,
    };

    public Option<int> LedgerQuota { get; } = new("--ledger-quota")
    {
        Description = "How many ledgers one tenant may make through the control plane.",
        DefaultValueFactory = _ => new Vellum.Node.Management.ManagementOptions().LedgerQuota,
    };

    public Option<string?> Config { get; } = new("--config")
    {
        Description = "A JSON file of settings, keyed as the flags in camelCase (\"data\", \"listen\", \"ledgers\": [...], \"tlsCert\", ...); " +
            "VELLUM_* environment variables (VELLUM_DATA, VELLUM_LEDGERS=a,b, VELLUM_TLS_CERT, ...) win over it, and flags over both. " +
            "vellum join reads the same file and takes the settings it has flags for.",
    };

    public Option<string?> ManagementListen { get; } = new("--management-listen")
    {
        Description = "host:port of a listener that answers the control plane alone (any host name, the deployment certificate); " +
            "the main listener then no longer answers it. Off when absent.",
    };

    /// <summary>Every option, to add to a command.</summary>
    public IEnumerable<Option> All => [Domain, TlsCert, TlsKey, MetricsListen, BackupWrites, SnapshotInterval, MaxSignaturesPerSecond, JwtIssuer, JwtCa, JwtAudience, JwtJwks, JwtUserClaim, AdminOid, OperatorCert, OperatorOid, Tenant, ManagementAudience, LedgerQuota, ManagementListen, Config];

    /// <summary>The values: a flag given wins; else the environment, else the file; else the flag's default.</summary>
    public Values Read(ParseResult result, StartSettings settings) => new(
        settings.Text(result, Domain, "domain"),
        settings.Maybe(result, TlsCert, "tlsCert"),
        settings.Maybe(result, TlsKey, "tlsKey"),
        settings.Maybe(result, MetricsListen, "metricsListen"),
        settings.Maybe(result, BackupWrites, "backupWrites"),
        settings.Number(result, SnapshotInterval, "snapshotInterval"),
        settings.Number(result, MaxSignaturesPerSecond, "maxSignaturesPerSecond"),
        settings.Maybe(result, JwtIssuer, "jwtIssuer"),
        settings.Maybe(result, JwtCa, "jwtCa"),
        settings.List(result, JwtAudience, "jwtAudiences"),
        settings.Maybe(result, JwtJwks, "jwtJwks"),
        settings.Maybe(result, JwtUserClaim, "jwtUserClaim"),
        settings.List(result, AdminOid, "adminOids"),
        settings.List(result, OperatorCert, "operatorCerts"),
        settings.List(result, OperatorOid, "operatorOids"),
        settings.Maybe(result, Tenant, "tenant"),
        settings.List(result, ManagementAudience, "managementAudiences"),
        settings.Number(result, LedgerQuota, "ledgerQuota"),
        settings.Maybe(result, ManagementListen, "managementListen"),
        settings.Objects("jwtIssuers") ?? []);

    /// <summary>The serving settings as given, before they are checked.</summary>
    internal sealed record Values(
        string Domain, string? TlsCert, string? TlsKey, string? MetricsListen, string? BackupWrites, int SnapshotInterval, int MaxSignaturesPerSecond,
        string? JwtIssuer, string? JwtCa, string[] JwtAudiences, string? JwtJwks, string? JwtUserClaim, string[] AdminOids,
        string[] OperatorCerts, string[] OperatorOids, string? Tenant, string[] ManagementAudiences, int LedgerQuota, string? ManagementListen,
        System.Text.Json.JsonElement[] JwtIssuerObjects)
    {
        /// <summary>False, with one line on stderr naming the setting, when any is wrong.</summary>
        public bool TryCheck(string command, out Checked? result)
        {
            result = null;
            bool Refuse(string message)
            {
                Console.Error.WriteLine($"vellum {command}: {message}");
                return false;
            }

            if (!SnapshotIntervalOption.Check(command, SnapshotInterval))
            {
                return false;
            }

            if (MaxSignaturesPerSecond is < 1 or > NodeOptions.MaxSignaturesPerSecondLimit)
            {
                return Refuse($"--max-signatures-per-second is from 1 to {NodeOptions.MaxSignaturesPerSecondLimit}, not {MaxSignaturesPerSecond}");
            }

            IPEndPoint? metrics = null;
            if (MetricsListen is not null && !StartCommand.TryParseEndpoint(MetricsListen, out metrics))
            {
                return Refuse($"--metrics-listen '{MetricsListen}' is not host:port");
            }

            if (!BackupWritesOption.TryParse(BackupWrites, out var backupWrites))
            {
                return Refuse($"--backup-writes is forward, redirect or refuse, not '{BackupWrites}'");
            }

            if (Uri.CheckHostName(Domain) != UriHostNameType.Dns)
            {
                return Refuse($"--domain '{Domain}' is not a DNS name");
            }

            if ((TlsCert is null) != (TlsKey is null))
            {
                return Refuse("--tls-cert and --tls-key go together");
            }

            foreach (var (flag, file) in new[] { ("--tls-cert", TlsCert), ("--tls-key", TlsKey) })
            {
                if (file is not null && !File.Exists(file))
                {
                    return Refuse($"{flag} {file} does not exist");
                }
            }

            List<Vellum.Node.Auth.JwtIssuerOptions> issuers = [];
            if (JwtIssuer is null)
            {
                if (JwtCa is not null || JwtAudiences.Length > 0 || JwtJwks is not null || JwtUserClaim is not null)
                {
                    return Refuse("--jwt-ca, --jwt-audience, --jwt-jwks and --jwt-user-claim configure --jwt-issuer, which is missing");
                }
            }
            else
            {
                issuers.Add(new Vellum.Node.Auth.JwtIssuerOptions
                {
                    Issuer = JwtIssuer, CaFile = JwtCa, Audiences = JwtAudiences, JwksFile = JwtJwks, UserClaim = JwtUserClaim ?? "oid",
                });
            }

            foreach (var element in JwtIssuerObjects)
            {
                if (!TryReadIssuer(element, out var issuer, out var issuerError))
                {
                    return Refuse($"jwtIssuers: {issuerError}");
                }

                issuers.Add(issuer!);
            }

            try
            {
                NodeOptions.ValidateIssuers(issuers);
            }
            catch (ArgumentException ex)
            {
                return Refuse(ex.Message);
            }

            foreach (var oid in AdminOids)
            {
                if (!Vellum.Node.Auth.BearerTokens.TryUserId(oid, out _))
                {
                    return Refuse($"--admin-oid '{oid}' is not a user id (a GUID, or up to 256 of A-Z a-z 0-9 . _ : @ -)");
                }
            }

            if (AdminOids.Length > 0 && issuers.Count == 0)
            {
                return Refuse("--admin-oid names a token user: give the identity provider its token comes from (--jwt-issuer)");
            }

            List<Vellum.Node.Management.OperatorSpec> operators = [];
            foreach (var (flag, texts, isCertificate) in new[] { ("--operator-cert", OperatorCerts, true), ("--operator-oid", OperatorOids, false) })
            {
                foreach (var text in texts)
                {
                    if (!Vellum.Node.Management.OperatorSpec.TryParse(text, isCertificate, out var spec, out var error))
                    {
                        return Refuse($"{flag} {error}");
                    }

                    operators.Add(spec!);
                }
            }

            if (OperatorOids.Length > 0 && issuers.Count == 0)
            {
                return Refuse("--operator-oid names a token user: give the identity provider its token comes from (--jwt-issuer)");
            }

            IPEndPoint? managementListen = null;
            if (ManagementListen is not null && !StartCommand.TryParseEndpoint(ManagementListen, out managementListen))
            {
                return Refuse($"--management-listen '{ManagementListen}' is not host:port");
            }

            var management = new Vellum.Node.Management.ManagementOptions
            {
                Operators = operators, TenantId = Tenant ?? Vellum.Node.Management.ManagementOptions.NoTenant, Audiences = ManagementAudiences, LedgerQuota = LedgerQuota,
                Listen = managementListen,
            };
            try
            {
                management.Validate();
            }
            catch (ArgumentException ex)
            {
                return Refuse(ex.Message);
            }

            result = new Checked(this, metrics, backupWrites, issuers, management);
            return true;
        }
    }

    /// <summary>
    /// One issuer of the config file's <c>jwtIssuers</c>: <c>{"issuer", "ca", "audiences", "jwks", "userClaim",
    /// "userPrefix", "ledgers", "requiredClaims", "tenant"}</c>, <c>issuer</c> required; strict, as the rest of the file.
    /// </summary>
    private static bool TryReadIssuer(System.Text.Json.JsonElement element, out Vellum.Node.Auth.JwtIssuerOptions? issuer, out string? error)
    {
        issuer = null;
        string[] known = ["issuer", "ca", "audiences", "jwks", "userClaim", "userPrefix", "ledgers", "requiredClaims", "tenant"];
        foreach (var property in element.EnumerateObject())
        {
            var ok = property.Name switch
            {
                "requiredClaims" => property.Value.ValueKind == System.Text.Json.JsonValueKind.Object &&
                                    property.Value.EnumerateObject().All(c => c.Value.ValueKind == System.Text.Json.JsonValueKind.String),
                "audiences" or "ledgers" => property.Value.ValueKind == System.Text.Json.JsonValueKind.Array &&
                                            property.Value.EnumerateArray().All(e => e.ValueKind == System.Text.Json.JsonValueKind.String),
                _ when known.Contains(property.Name) => property.Value.ValueKind == System.Text.Json.JsonValueKind.String,
                _ => false,
            };
            if (!ok)
            {
                error = known.Contains(property.Name)
                    ? $"'{property.Name}' is {property.Name switch { "audiences" or "ledgers" => "an array of strings", "requiredClaims" => "an object of strings", _ => "a string" }}"
                    : $"unknown setting '{property.Name}' of an issuer (settings: {string.Join(", ", known)})";
                return false;
            }
        }

        string? Text(string name) => element.TryGetProperty(name, out var value) ? value.GetString() : null;
        string[] List(string name) => element.TryGetProperty(name, out var value) ? [.. value.EnumerateArray().Select(e => e.GetString()!)] : [];
        if (Text("issuer") is not { } url)
        {
            error = "an issuer without 'issuer' (its URL)";
            return false;
        }

        issuer = new Vellum.Node.Auth.JwtIssuerOptions
        {
            Issuer = url, CaFile = Text("ca"), Audiences = List("audiences"), JwksFile = Text("jwks"), UserClaim = Text("userClaim") ?? "oid",
            UserPrefix = Text("userPrefix"), Ledgers = List("ledgers"), TenantId = Text("tenant"),
            RequiredClaims = element.TryGetProperty("requiredClaims", out var required)
                ? required.EnumerateObject().ToDictionary(c => c.Name, c => c.Value.GetString()!, StringComparer.Ordinal)
                : new Dictionary<string, string>(),
        };
        error = null;
        return true;
    }

    /// <summary>Checked serving settings, ready for <see cref="NodeOptions"/>.</summary>
    internal sealed record Checked(
        Values Given, IPEndPoint? MetricsEndPoint, BackupWrites BackupWrites, IReadOnlyList<Vellum.Node.Auth.JwtIssuerOptions> JwtIssuers,
        Vellum.Node.Management.ManagementOptions Management);
}
