using Vellum.Core.Identity;

namespace Vellum.Core.Tests.Identity;

public sealed class NodeTlsCertificateTests
{
    [Fact]
    public void The_tls_form_is_made_on_first_use_and_then_kept()
    {
        using var service = ServiceIdentity.Create();
        using var node = NodeIdentity.Create(service);
        var tls = new NodeTlsCertificate(node);

        Assert.False(tls.IsMade);
        var certificate = tls.Certificate;
        Assert.True(tls.IsMade);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(node.Certificate.Thumbprint, certificate.Thumbprint);
        Assert.Same(certificate, tls.Context.TargetCertificate);
        Assert.Same(certificate, tls.Certificate);
    }

    [Fact]
    public void A_replaced_certificate_stays_usable_after_its_identity_is_disposed()
    {
        using var service = ServiceIdentity.Create();
        var old = NodeIdentity.Create(service);
        var tls = new NodeTlsCertificate(old);
        var renewed = old.Renew(service);
        try
        {
            tls.Replace(renewed);
            old.Dispose();

            Assert.True(tls.IsMade);
            Assert.Equal(renewed.Certificate.Thumbprint, tls.Certificate.Thumbprint);
            Assert.True(tls.Certificate.HasPrivateKey);
        }
        finally
        {
            renewed.Dispose();
        }
    }
}
