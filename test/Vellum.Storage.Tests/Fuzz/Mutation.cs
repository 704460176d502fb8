using System.Buffers.Binary;
using CsCheck;

namespace Vellum.Storage.Tests.Fuzz;

public enum MutationKind
{
    BitFlip,
    Overwrite,
    WriteUInt32,
    Insert,
    Delete,
    Truncate,
    Duplicate,
    AllZero,
    AllOnes,
    RandomFile,
}

/// <summary>
/// One random change to a file. Positions are reduced modulo the file length when applied, so one mutation applies to
/// any file; <see cref="AtField"/> aims a <see cref="MutationKind.WriteUInt32"/> at a length or count field instead.
/// </summary>
public sealed record Mutation(MutationKind Kind, int Position, int Length, uint Value, bool AtField, byte[] Data)
{
    private static readonly Gen<uint> Value32 = Gen.OneOf(
        Gen.UInt,
        Gen.UInt[0, 70_000],
        Gen.OneOf(0u, 1u, 87u, 88u, 0x7FFF_FFFFu, 0x8000_0000u, uint.MaxValue, 4u * 1024 * 1024, (4u * 1024 * 1024) + 1));

    /// <summary>Every kind, with small parameters more likely than large ones.</summary>
    public static readonly Gen<Mutation> Generator =
        from kind in Gen.Enum<MutationKind>()
        from position in Gen.Int[0, int.MaxValue]
        from length in Gen.OneOf(Gen.Int[1, 16], Gen.Int[1, 4096])
        from value in Value32
        from atField in Gen.Bool
        from data in kind == MutationKind.RandomFile ? Gen.Byte.Array[0, 64 * 1024] : Gen.Byte.Array[1, 64]
        select new Mutation(kind, position, length, value, atField, data);

    /// <summary>The mutation drawn for one case: a fixed seed gives the same mutation on every run and machine.</summary>
    public static Mutation ForSeed(ulong seed) => Generator.Generate(new PCG(1, seed), null, out _);

    /// <summary>Applies the mutation to a copy of <paramref name="file"/>; <paramref name="fields"/> are offsets of length and count fields.</summary>
    public byte[] Apply(byte[] file, IReadOnlyList<int> fields)
    {
        var length = file.Length;
        var at = length == 0 ? 0 : Position % length;
        switch (Kind)
        {
            case MutationKind.BitFlip when length > 0:
                {
                    var copy = (byte[])file.Clone();
                    copy[at] ^= (byte)(1 << (int)(Value % 8));
                    return copy;
                }

            case MutationKind.Overwrite when length > 0:
                {
                    var copy = (byte[])file.Clone();
                    Data.AsSpan(0, Math.Min(Data.Length, length - at)).CopyTo(copy.AsSpan(at));
                    return copy;
                }

            case MutationKind.WriteUInt32 when length >= 4:
                {
                    var copy = (byte[])file.Clone();
                    var offset = AtField && fields.Count > 0 ? fields[Position % fields.Count] : Position % (length - 3);
                    BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(Math.Min(offset, length - 4)), Value);
                    return copy;
                }

            case MutationKind.Insert:
                {
                    var insertAt = Position % (length + 1);
                    return [.. file.AsSpan(0, insertAt), .. Data, .. file.AsSpan(insertAt)];
                }

            case MutationKind.Delete when length > 0:
                return [.. file.AsSpan(0, at), .. file.AsSpan(at + Math.Min(Length, length - at))];

            case MutationKind.Truncate:
                return file[..at];

            case MutationKind.Duplicate when length > 0:
                {
                    var range = file.AsSpan(at, Math.Min(Length, length - at));
                    var insertAt = (int)(Value % (uint)(length + 1));
                    return [.. file.AsSpan(0, insertAt), .. range, .. file.AsSpan(insertAt)];
                }

            case MutationKind.AllZero:
                return new byte[length];

            case MutationKind.AllOnes:
                return Enumerable.Repeat((byte)0xFF, length).ToArray();

            case MutationKind.RandomFile:
                return (byte[])Data.Clone();

            default:
                return (byte[])file.Clone();
        }
    }

    public override string ToString() =>
        $"{Kind} position {Position} length {Length} value 0x{Value:x8} atField {AtField} data[{Data.Length}] {Convert.ToHexString(Data.AsSpan(0, Math.Min(16, Data.Length)))}";
}
