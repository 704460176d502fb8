using Vellum.Core.Crypto;
using Vellum.Core.Entries;
using Vellum.Core.Format;

namespace Vellum.Storage.Tests.Fuzz;

/// <summary>Runs every parser of untrusted chunk bytes over a file the way a reader would, ignoring the answers.</summary>
internal static class ChunkParsers
{
    public static void ReadEverything(ReadOnlySpan<byte> file, LedgerSecret? secret)
    {
        ChunkFormat.TryReadHeader(file, out _, out _, out _);
        var framesEnd = file.Length;
        if (ChunkFormat.TryReadTrailer(file, out var count, out var positionsOffset, out _))
        {
            framesEnd = (int)positionsOffset;
            for (long i = 0; i < count; i++)
            {
                var position = ChunkFormat.ReadPosition(file, positionsOffset, i);
                if (position >= ChunkFormat.HeaderSize && position < positionsOffset)
                {
                    Frame.TryRead(file[(int)position..framesEnd], out _);
                }
            }
        }

        var offset = Math.Min(ChunkFormat.HeaderSize, framesEnd);
        while (offset < framesEnd && Frame.TryRead(file[offset..framesEnd], out var bodyLength) == FrameStatus.Ok)
        {
            // A body behind a good checksum is unchanged (up to CRC collisions): its ECDSA check would add time, not cover.
            ReadBody(file.Slice(offset + Frame.HeaderSize, bodyLength), secret, verifySignatures: false);
            offset += Frame.HeaderSize + bodyLength;
        }
    }

    public static void ReadBody(ReadOnlySpan<byte> body, LedgerSecret? secret, bool verifySignatures = true)
    {
        if (!EntryHeader.TryRead(body, out var header, out _))
        {
            return;
        }

        UserEntry.TryDecodePublic(body, header, out _, out _, out _);
        UserEntry.TryDecode(body, header, null, out _, out _);
        UserEntry.TryDecode(body, header, secret, out _, out _);
        if (SignatureEntry.TryDecode(body, header, out var signature, out _) && verifySignatures)
        {
            signature!.VerifySignature(out _);
        }
    }
}
