using Vellum.Core.Primitives;

namespace Vellum.Core.Verification;

/// <summary>
/// The last few root signatures this process made with a node key, so that the ledger applying its own signature
/// transactions need not verify the ECDSA signatures it has just computed (P-384 verification costs about as much as
/// signing: ~0.7 ms of CPU each on a small machine, paid up to <c>MaxSignaturesPerSecond</c> times a second).
/// </summary>
/// <remarks>
/// A signature is skipped only when its root, its bytes and its node id are exactly those recorded, and only once;
/// everything else about it is still checked (coverage, the root against the tree, the certificate's node id and its
/// endorsement). Nothing read from a file or received from a peer is in this set unless this process signed the same
/// root with the same key at the same moment, which is what checking it would confirm. Thread-safe; bounded.
/// </remarks>
public sealed class SignaturesIssued
{
    /// <summary>How many recent signatures are remembered; older ones are verified as usual.</summary>
    public const int Capacity = 64;

    private readonly Lock _lock = new();
    private readonly Issued?[] _ring = new Issued?[Capacity];
    private int _next;

    /// <summary>Records a signature made by node <paramref name="nodeId"/> over <paramref name="root"/>.</summary>
    public void Record(in Hash32 root, in Hash32 nodeId, byte[] signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var issued = new Issued(root, nodeId, signature);
        lock (_lock)
        {
            _ring[_next] = issued;
            _next = (_next + 1) % Capacity;
        }
    }

    /// <summary>
    /// True, once, when <paramref name="signature"/> by <paramref name="nodeId"/> over <paramref name="root"/> is one this
    /// process recorded; the record is then forgotten.
    /// </summary>
    public bool TryTake(in Hash32 root, in Hash32 nodeId, ReadOnlySpan<byte> signature)
    {
        lock (_lock)
        {
            for (var i = 0; i < _ring.Length; i++)
            {
                if (_ring[i] is { } issued && issued.Root == root && issued.NodeId == nodeId && signature.SequenceEqual(issued.Signature))
                {
                    _ring[i] = null;
                    return true;
                }
            }
        }

        return false;
    }

    private sealed record Issued(Hash32 Root, Hash32 NodeId, byte[] Signature);
}
