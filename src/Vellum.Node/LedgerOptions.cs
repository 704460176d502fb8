namespace Vellum.Node;

/// <summary>
/// What one ledger is held to: its limits (ACL's where ACL has one) and its signature interval. Separate from the node's
/// options (<see cref="NodeOptions"/>: listening, TLS, the cluster, the shared caches and cadences) so that a ledger
/// carries its own: today every ledger of a node gets <see cref="NodeOptions.LedgerDefaults"/>; per-ledger settings come
/// with the control plane. Each default is defined here and nowhere else.
/// </summary>
public sealed class LedgerOptions
{
    /// <summary>Largest <c>contents</c>, in UTF-8 bytes (ACL: 8,192).</summary>
    public int MaxContentsBytes { get; init; } = 8192;

    /// <summary>Longest collection id, in UTF-8 bytes (ACL: 256).</summary>
    public int MaxCollectionIdBytes { get; init; } = 256;

    /// <summary>Most collections a ledger may have, the default collection not counted (ACL: 5,000).</summary>
    public int MaxCollections { get; init; } = 5000;

    /// <summary>Most tags a ledger may have, a tag counting once per collection that uses it (ACL: 10,000).</summary>
    public int MaxTags { get; init; } = 10_000;

    /// <summary>Most tags on one entry (default 10).</summary>
    public int MaxTagsPerEntry { get; init; } = 10;

    /// <summary>Longest tag, in UTF-8 bytes (default 64).</summary>
    public int MaxTagBytes { get; init; } = 64;

    /// <summary>Entries per page of <c>GET /app/transactions</c> (default 100); a page also ends at 1 MiB of JSON.</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>Signature transaction every this many transactions (default 5,000).</summary>
    public int SignatureInterval { get; init; } = 5000;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        NodeOptions.Positive(MaxContentsBytes, nameof(MaxContentsBytes));
        NodeOptions.Positive(MaxCollectionIdBytes, nameof(MaxCollectionIdBytes));
        NodeOptions.Positive(MaxCollections, nameof(MaxCollections));
        NodeOptions.Positive(MaxTags, nameof(MaxTags));
        NodeOptions.Positive(MaxTagsPerEntry, nameof(MaxTagsPerEntry));
        NodeOptions.Positive(MaxTagBytes, nameof(MaxTagBytes));
        NodeOptions.Positive(PageSize, nameof(PageSize));
        NodeOptions.Positive(SignatureInterval, nameof(SignatureInterval));
    }
}
