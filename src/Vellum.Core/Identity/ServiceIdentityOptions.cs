namespace Vellum.Core.Identity;

/// <summary>How a new service identity certificate is made.</summary>
public sealed class ServiceIdentityOptions
{
    /// <summary>The default subject, the counterpart of ACL's <c>CN=CCF Network</c>.</summary>
    public const string DefaultSubjectName = "CN=Vellum Service";

    /// <summary>
    /// The default validity: ten years (3,653 days). The service certificate is not renewed in place — clients pin
    /// it and receipts are verified against it — so a new service gets one that outlives any likely deployment; node
    /// certificates, which it issues for a year at a time, are renewed instead.
    /// </summary>
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(3653);

    /// <summary>Subject distinguished name; default <see cref="DefaultSubjectName"/>.</summary>
    public string SubjectName { get; set; } = DefaultSubjectName;

    /// <summary>How long the certificate is valid from <see cref="NotBefore"/>; default <see cref="DefaultValidity"/>.</summary>
    public TimeSpan Validity { get; set; } = DefaultValidity;

    /// <summary>Start of validity; default (null) is now minus five minutes, to tolerate clock skew between peers.</summary>
    public DateTimeOffset? NotBefore { get; set; }
}
