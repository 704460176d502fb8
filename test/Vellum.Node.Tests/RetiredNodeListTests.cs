using Vellum.Core.Primitives;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>The deployment's retired node keys: applied from the log, described for a snapshot, restored from one, kept in a file.</summary>
public sealed class RetiredNodeListTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("vellum-retired-").FullName;

    private string FilePath => Path.Combine(_root, "retired");

    [Fact]
    public void A_retirement_is_kept_in_the_file_travels_in_a_snapshot_and_a_restore_is_a_union()
    {
        var first = Hash32.Compute("first"u8);
        var second = Hash32.Compute("second"u8);
        var third = Hash32.Compute("third"u8);
        var leader = RetiredNodeList.Open(FilePath, () => null);
        leader.Apply(RetiredNodeList.EncodeRetirement(first, "10.0.0.4:9443"));
        leader.Apply(RetiredNodeList.EncodeRetirement(first, "10.0.0.4:9443")); // applied again on a replay: no change
        leader.Apply(RetiredNodeList.EncodeRetirement(second, "[::1]:9443"));
        Assert.Equal(2, leader.Count);
        Assert.True(leader.IsRetired(first) && leader.IsRetired(second) && !leader.IsRetired(third));
        Assert.Equal(2, File.ReadAllLines(FilePath).Length);
        Assert.Equal(leader.Describe(), File.ReadAllBytes(FilePath));

        // A member that knew of a third takes the snapshot's list in beside its own.
        var member = RetiredNodeList.Open(Path.Combine(_root, "member"), () => null);
        member.Merge([third]);
        member.Restore(leader.Describe());
        Assert.Equal(3, member.Count);
        Assert.True(member.IsRetired(first) && member.IsRetired(second) && member.IsRetired(third));

        // Reopened from its file, the same list.
        var reopened = RetiredNodeList.Open(Path.Combine(_root, "member"), () => null);
        Assert.Equal(3, reopened.Count);
        Assert.Contains($"{second} [::1]:9443", File.ReadAllLines(Path.Combine(_root, "member")));
    }

    [Fact]
    public void Damaged_changes_snapshots_and_files_are_refused_and_change_nothing()
    {
        var list = RetiredNodeList.Open(FilePath, () => null);
        var id = Hash32.Compute("k"u8);
        var change = RetiredNodeList.EncodeRetirement(id, "10.0.0.4:9443");
        change[0] = 2; // a kind this version does not know
        Assert.Throws<InvalidDataException>(() => list.Apply(change));
        Assert.Throws<InvalidDataException>(() => list.Apply(change.AsSpan(0, 10)));
        Assert.Throws<InvalidDataException>(() => list.Restore("not a node id\n"u8));
        Assert.Throws<ArgumentException>(() => RetiredNodeList.EncodeRetirement(id, "two words"));
        Assert.Throws<ArgumentException>(() => RetiredNodeList.EncodeRetirement(id, new string('a', 256))); // at most 255 bytes
        var spaced = RetiredNodeList.EncodeRetirement(id, "10.0.0.4:9443");
        spaced[^5] = (byte)' '; // an address with a space, as no member writes one
        Assert.Throws<InvalidDataException>(() => list.Apply(spaced));
        Assert.Equal(0, list.Count);
        Assert.False(File.Exists(FilePath));

        File.WriteAllText(FilePath, "zz\n");
        Assert.Throws<InvalidDataException>(() => RetiredNodeList.Open(FilePath, () => null));
    }

    [Fact]
    public void A_key_retired_in_defaults_governance_counts_while_the_ledger_names_it()
    {
        var old = Hash32.Compute("retired by an earlier version"u8);
        var list = RetiredNodeList.Open(FilePath, () => new Legacy(old));
        Assert.True(list.IsRetired(old));
        Assert.Equal(0, list.Count);
    }

    private sealed class Legacy(Hash32 retired) : Vellum.Core.Identity.IRetiredNodes
    {
        public bool IsRetired(in Hash32 nodeId) => nodeId == retired;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
