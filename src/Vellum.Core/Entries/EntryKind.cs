namespace Vellum.Core.Entries;

/// <summary>What a transaction is. The value is byte 1 of every entry body; see docs/ledger-format.md.</summary>
public enum EntryKind : byte
{
    /// <summary>An application entry: collection id, contents, tags, application claims.</summary>
    UserEntry = 1,

    /// <summary>A signature over the Merkle root of every earlier transaction.</summary>
    Signature = 2,

    /// <summary>Governance: today a node retirement (<see cref="NodeRetirementEntry"/>); constitution and proposals may follow.</summary>
    Governance = 3,

    /// <summary>Reserved for user and role changes. Opaque public and private sections.</summary>
    UserManagement = 4,

    /// <summary>Reserved for ledger-secret rotation. Opaque public and private sections.</summary>
    KeyRotation = 5,
}

/// <summary>Flags in byte 2 of an entry body.</summary>
[Flags]
public enum EntryFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>The private section is AES-256-GCM ciphertext followed by its 16-byte tag.</summary>
    Encrypted = 1,
}
