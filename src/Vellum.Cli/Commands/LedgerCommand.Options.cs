using System.CommandLine;

namespace Vellum.Cli.Commands;

/// <summary>The options every <c>vellum ledger</c> subcommand shares: where the deployment is, who calls it, which resources.</summary>
internal static partial class LedgerCommand
{
    /// <summary>What the shared options say, read once per invocation.</summary>
    /// <param name="Endpoint">The deployment's URL as given (checked when the connection is opened).</param>
    /// <param name="Data">A local development deployment's data folder: its Administrator's certificate and its CA.</param>
    /// <param name="Cert">The operator's client certificate (PEM).</param>
    /// <param name="Key">The private key of <paramref name="Cert"/> (PEM).</param>
    /// <param name="Token">The bearer token given with --token (VELLUM_TOKEN is read when the connection is opened).</param>
    /// <param name="Ca">The certificates to trust for the deployment's TLS (PEM).</param>
    /// <param name="Subscription">The subscription.</param>
    /// <param name="ResourceGroup">The resource group.</param>
    /// <param name="ResourceGroupGiven">Whether --resource-group was given (list then lists the group, not the subscription).</param>
    /// <param name="Json">Print the deployment's JSON answers as they are.</param>
    private sealed record Settings(
        string? Endpoint, string? Data, string? Cert, string? Key, string? Token, string? Ca,
        string Subscription, string ResourceGroup, bool ResourceGroupGiven, bool Json);

    /// <summary>
    /// The shared options, recursive so that they may come before or after the subcommand
    /// (<c>vellum ledger --data d list</c> and <c>vellum ledger list --data d</c>).
    /// </summary>
    private sealed class SharedOptions
    {
        private readonly Option<string?> _endpoint = new("--endpoint")
        {
            Description = "The deployment: https://HOST:PORT (its control plane; required).", Recursive = true,
        };

        private readonly Option<string?> _data = new("--data")
        {
            Description = "A local development deployment's data folder: its Administrator (credentials/admin_cert.pem, admin_privk.pem) is the client " +
                "certificate unless --cert or --token is given, and its CA (credentials/deployment_ca_cert.pem) is trusted unless --ca is given.",
            Recursive = true,
        };

        private readonly Option<string?> _cert = new("--cert") { Description = "PEM file of an operator's client certificate (with --key).", Recursive = true };
        private readonly Option<string?> _key = new("--key") { Description = "PEM file of the private key of --cert.", Recursive = true };

        private readonly Option<string?> _token = new("--token")
        {
            Description = $"A bearer token (JWT) for the control plane, instead of a certificate; {TokenVariable} is read when neither this, " +
                "--cert nor --data is given.",
            Recursive = true,
        };

        private readonly Option<string?> _ca = new("--ca")
        {
            Description = "PEM file of the CA certificates to trust for the deployment's TLS certificate, and only those; " +
                "without it (or --data), the system's trust store.",
            Recursive = true,
        };

        private readonly Option<string> _subscription = new("--subscription")
        {
            Description = "The subscription (an id of the deployment's choosing).", DefaultValueFactory = _ => DefaultSubscription, Recursive = true,
        };

        private readonly Option<string> _resourceGroup = new("--resource-group")
        {
            Description = "The resource group.", DefaultValueFactory = _ => DefaultResourceGroup, Recursive = true,
        };

        private readonly Option<bool> _json = new("--json") { Description = "Print the deployment's JSON answer instead of lines.", Recursive = true };

        public IEnumerable<Option> All => [_endpoint, _data, _cert, _key, _token, _ca, _subscription, _resourceGroup, _json];

        public Settings Read(ParseResult result) => new(
            result.GetValue(_endpoint), result.GetValue(_data), result.GetValue(_cert), result.GetValue(_key), result.GetValue(_token), result.GetValue(_ca),
            result.GetValue(_subscription)!, result.GetValue(_resourceGroup)!, result.GetResult(_resourceGroup) is { Implicit: false }, result.GetValue(_json));
    }
}
