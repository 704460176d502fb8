using System.Numerics;

namespace Vellum.LoadGen;

/// <summary>
/// A log-linear histogram of non-negative values (HdrHistogram's layout, written small): values below
/// 2 × <see cref="SubBuckets"/> are counted exactly; above, each power of two is split into <see cref="SubBuckets"/>
/// equal buckets, so a reported percentile is within 1/<see cref="SubBuckets"/> (0.8%) of the true one. Values up to
/// <see cref="HighestTrackable"/> (2^44 - 1: about 4.9 hours of nanosecond ticks) are tracked; larger ones count as it.
/// Recording is one index computation and one increment, with no allocation; one instance per client (about 40 KB),
/// merged at the end.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Buckets per power of two above the exact range.</summary>
    public const int SubBuckets = 128;

    /// <summary>The largest value told apart from larger ones.</summary>
    public const long HighestTrackable = (1L << HighestBits) - 1;

    private const int SubBucketBits = 7; // log2(SubBuckets)
    private const int HighestBits = 44;

    // Exact range [0, 2·SubBuckets), then SubBuckets per power of two up to 2^HighestBits.
    private const int BucketCount = (2 * SubBuckets) + ((HighestBits - SubBucketBits - 1) * SubBuckets);

    private readonly long[] _counts = new long[BucketCount];

    /// <summary>How many values were recorded.</summary>
    public long Count { get; private set; }

    /// <summary>The largest value recorded (0 if none).</summary>
    public long Max { get; private set; }

    /// <summary>The smallest value recorded (0 if none).</summary>
    public long Min { get; private set; } = long.MaxValue;

    /// <summary>Counts <paramref name="value"/> (clamped to [0, <see cref="HighestTrackable"/>]).</summary>
    public void Record(long value)
    {
        value = Math.Clamp(value, 0, HighestTrackable);

        _counts[IndexOf(value)]++;
        Count++;
        if (value > Max)
        {
            Max = value;
        }

        if (value < Min)
        {
            Min = value;
        }
    }

    /// <summary>Adds every count of <paramref name="other"/> to this one.</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0)
        {
            return;
        }

        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
        Min = Math.Min(Min, other.Min);
    }

    /// <summary>Forgets every value.</summary>
    public void Clear()
    {
        Array.Clear(_counts);
        Count = 0;
        Max = 0;
        Min = long.MaxValue;
    }

    /// <summary>
    /// The smallest value v such that at least <paramref name="percentile"/>% of the recorded values are ≤ v, to
    /// within one bucket (reported as the bucket's highest value, never above <see cref="Max"/>); 0 if empty.
    /// </summary>
    public long ValueAtPercentile(double percentile)
    {
        if (percentile is < 0 or > 100 || double.IsNaN(percentile))
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "A percentile is between 0 and 100.");
        }

        if (Count == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * Count));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Clamp(HighestValueOf(i), Min, Max);
            }
        }

        return Max;
    }

    internal static int IndexOf(long value)
    {
        if (value < 2 * SubBuckets)
        {
            return (int)value;
        }

        // msb ≥ SubBucketBits + 1; shifting by (msb - SubBucketBits) leaves the top SubBucketBits + 1 bits,
        // a number in [SubBuckets, 2·SubBuckets).
        var msb = 63 - BitOperations.LeadingZeroCount((ulong)value);
        var shift = msb - SubBucketBits;
        var top = (int)(value >> shift);
        return (2 * SubBuckets) + ((shift - 1) * SubBuckets) + (top - SubBuckets);
    }

    internal static long HighestValueOf(int index)
    {
        if (index < 2 * SubBuckets)
        {
            return index;
        }

        var above = index - (2 * SubBuckets);
        var shift = (above / SubBuckets) + 1;
        var top = (long)((above % SubBuckets) + SubBuckets);
        return ((top + 1) << shift) - 1;
    }
}
