namespace Vellum.LoadGen;

/// <summary>A run could not be set up or carried out (unreachable node, refused certificate, preload failed).</summary>
public sealed class LoadGenException : Exception
{
    public LoadGenException()
    {
    }

    public LoadGenException(string message)
        : base(message)
    {
    }

    public LoadGenException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
