namespace Vellum.LoadGen.Tests;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Empty_reports_zero()
    {
        var histogram = new LatencyHistogram();
        Assert.Equal(0, histogram.Count);
        Assert.Equal(0, histogram.ValueAtPercentile(50));
        Assert.Equal(0, histogram.Max);
    }

    [Fact]
    public void Small_values_are_exact()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 100; v++)
        {
            histogram.Record(v);
        }

        Assert.Equal(100, histogram.Count);
        Assert.Equal(50, histogram.ValueAtPercentile(50));
        Assert.Equal(90, histogram.ValueAtPercentile(90));
        Assert.Equal(99, histogram.ValueAtPercentile(99));
        Assert.Equal(100, histogram.ValueAtPercentile(99.9));
        Assert.Equal(100, histogram.ValueAtPercentile(100));
        Assert.Equal(1, histogram.ValueAtPercentile(0));
        Assert.Equal(100, histogram.Max);
    }

    [Theory]
    [InlineData(50, 500_000)]
    [InlineData(90, 900_000)]
    [InlineData(99, 990_000)]
    [InlineData(99.9, 999_000)]
    public void Large_values_are_within_one_bucket(double percentile, long expected)
    {
        var histogram = new LatencyHistogram();
        for (var v = 1L; v <= 1_000_000; v++)
        {
            histogram.Record(v);
        }

        var reported = histogram.ValueAtPercentile(percentile);
        Assert.InRange(reported, expected, expected + (expected / LatencyHistogram.SubBuckets));
    }

    [Fact]
    public void Skewed_distribution_and_max()
    {
        // 990 fast requests (1 ms in ns) and 10 slow ones (250 ms): p99 is fast, p99.9 and max are slow.
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 990; i++)
        {
            histogram.Record(1_000_000);
        }

        for (var i = 0; i < 10; i++)
        {
            histogram.Record(250_000_000);
        }

        Assert.InRange(histogram.ValueAtPercentile(50), 1_000_000, 1_000_000 * 129 / 128);
        Assert.InRange(histogram.ValueAtPercentile(99), 1_000_000, 1_000_000 * 129 / 128);
        Assert.Equal(250_000_000, histogram.ValueAtPercentile(99.9)); // clamped to the max recorded
        Assert.Equal(250_000_000, histogram.Max);
    }

    [Fact]
    public void Merged_histograms_count_everything()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        for (var v = 1; v <= 50; v++)
        {
            a.Record(v);
            b.Record(v + 50);
        }

        var total = new LatencyHistogram();
        total.Add(a);
        total.Add(b);
        Assert.Equal(100, total.Count);
        Assert.Equal(50, total.ValueAtPercentile(50));
        Assert.Equal(100, total.Max);
    }

    [Fact]
    public void Every_bucket_bounds_its_values_within_the_precision()
    {
        var previous = -1;
        for (var shift = 0; shift < 44; shift++)
        {
            foreach (var v in new[] { 1L << shift, (1L << shift) + (1L << shift) / 2, (2L << shift) - 1 })
            {
                if (v > LatencyHistogram.HighestTrackable)
                {
                    continue;
                }

                var index = LatencyHistogram.IndexOf(v);
                var highest = LatencyHistogram.HighestValueOf(index);
                Assert.InRange(highest, v, v + (v / LatencyHistogram.SubBuckets));
                Assert.True(index >= previous, $"index of {v} went backwards");
                previous = index;
            }
        }
    }

    [Fact]
    public void Out_of_range_values_are_clamped()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);
        histogram.Record(long.MaxValue);
        Assert.Equal(0, histogram.ValueAtPercentile(50));
        Assert.Equal(LatencyHistogram.HighestTrackable, histogram.Max);
        Assert.Throws<ArgumentOutOfRangeException>(() => histogram.ValueAtPercentile(101));
    }
}
