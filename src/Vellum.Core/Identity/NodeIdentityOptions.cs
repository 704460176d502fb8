using System.Net;

namespace Vellum.Core.Identity;

/// <summary>How a node certificate is issued by the service identity.</summary>
public sealed class NodeIdentityOptions
{
    /// <summary>The default subject, the counterpart of ACL's <c>CN=CCF Node</c>.</summary>
    public const string DefaultSubjectName = "CN=Vellum Node";

    /// <summary>
    /// The default validity: 365 days; a node renews its certificate when it starts with a third of that left. The
    /// issued certificate never outlives its issuer: NotAfter is clamped to the service certificate's NotAfter.
    /// </summary>
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(365);

    /// <summary>Subject distinguished name; default <see cref="DefaultSubjectName"/>.</summary>
    public string SubjectName { get; set; } = DefaultSubjectName;

    /// <summary>DNS names put in the subjectAltName extension; default none.</summary>
    public IList<string> DnsNames { get; } = [];

    /// <summary>IP addresses put in the subjectAltName extension; default none.</summary>
    public IList<IPAddress> IPAddresses { get; } = [];

    /// <summary>How long the certificate is valid from <see cref="NotBefore"/>; default <see cref="DefaultValidity"/>.</summary>
    public TimeSpan Validity { get; set; } = DefaultValidity;

    /// <summary>Start of validity; default (null) is now minus five minutes, to tolerate clock skew between peers.</summary>
    public DateTimeOffset? NotBefore { get; set; }
}
