using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

// Bare Kestrel: HTTPS (TLS 1.2/1.3, HTTP/1.1 and HTTP/2) with a node's certificate and the node's client-certificate
// settings, answering the load generator's noop-post and preflight paths with no routing metadata, identity lookup,
// api-version or body checks. What the node adds on top of this is the cost of its pipeline.
//   dotnet run -c Release --project bench/Vellum.BareKestrel -- <vellum data folder> <port>
if (args.Length != 2 || !int.TryParse(args[1], out var port))
{
    Console.Error.WriteLine("usage: Vellum.BareKestrel <vellum data folder> <port>");
    return 2;
}

using var pem = X509Certificate2.CreateFromPemFile(
    Path.Combine(args[0], "ledgers", "default", "credentials", "node_cert.pem"), Path.Combine(args[0], "node", "node_privk.pem"));
using var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, port, listen =>
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateMode = ClientCertificateMode.AllowCertificate,
            ClientCertificateValidation = static (_, _, _) => true,
            CheckCertificateRevocation = false,
        });
    });
});
var app = builder.Build();
var answer = "{}"u8.ToArray();
app.MapPost("/app/benchmark/noop", async context =>
{
    // Read the body as the node does, then answer a fixed JSON object.
    using var body = new MemoryStream();
    await context.Request.Body.CopyToAsync(body, context.RequestAborted);
    context.Response.ContentType = "application/json";
    await context.Response.Body.WriteAsync(answer, context.RequestAborted);
});
app.MapGet("/app/transactions/current", context => context.Response.Body.WriteAsync(answer, context.RequestAborted).AsTask());
Console.WriteLine($"bare Kestrel on https://127.0.0.1:{port}");
await app.RunAsync();
return 0;
