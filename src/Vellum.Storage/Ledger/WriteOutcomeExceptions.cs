namespace Vellum.Storage.Ledger;

/// <summary>A write whose outcome is unknown: this node stopped being primary before it committed.</summary>
public sealed class ReplicationLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicationLostException()
        : this("this node stopped being primary before the transaction committed; its outcome is unknown until its status is Committed or Invalid")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ReplicationLostException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public ReplicationLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>An append reached a node that is not the primary of a replicated ledger.</summary>
public sealed class NotPrimaryException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NotPrimaryException()
        : this("this node is not the primary")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public NotPrimaryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public NotPrimaryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
