namespace Vellum.Core.Identity;

/// <summary>How a new service identity certificate is made.</summary>
public sealed class ServiceIdentityOptions
{
    /// <summary>The default subject, the counterpart of ACL's <c>CN=CCF Network</c>.</summary>
    public const string DefaultSubjectName = "CN=Vellum Service";

    /// <summary>The default validity: 365 days.</summary>
    public static readonly TimeSpan DefaultValidity = TimeSpan.FromDays(365);

    /// <summary>Subject distinguished name; default <see cref="DefaultSubjectName"/>.</summary>
    public string SubjectName { get; set; } = DefaultSubjectName;

    /// <summary>How long the certificate is valid from <see cref="NotBefore"/>; default <see cref="DefaultValidity"/>.</summary>
    public TimeSpan Validity { get; set; } = DefaultValidity;

    /// <summary>Start of validity; default (null) is now minus five minutes, to tolerate clock skew between peers.</summary>
    public DateTimeOffset? NotBefore { get; set; }
}
