using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vellum.Node.Endpoints;

/// <summary>
/// The string escaping of every JSON answer: printable non-ASCII text is written as it is (UTF-8), not as
/// <c>\uXXXX</c>. The default encoder escapes every non-ASCII character, which tripled the size of CJK text and made
/// entries a Reader lists several times larger than what was written (issue #12, H4).
/// </summary>
/// <remarks>
/// <para>ASCII is escaped exactly as by <see cref="JavaScriptEncoder.Default"/>, so an ASCII answer is byte for byte what
/// it was: controls (JSON requires it), <c>"</c> and <c>\</c>, and the HTML-significant <c>&lt; &gt; &amp; ' + `</c>.
/// The last are not needed for JSON, but keeping them escaped costs nothing and keeps an answer safe to paste into a
/// web page or a script block, which <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/> would give up.</para>
/// <para>Beyond ASCII, only what cannot be seen or is unsafe to show is escaped: C1 controls (Cc), format characters
/// (Cf: bidi overrides, zero-width characters), private-use and unassigned code points (Co, Cn), and the line and
/// paragraph separators U+2028/U+2029 (line breaks inside a JavaScript string literal). Letters, marks, digits,
/// punctuation, symbols (emoji included, which the stock encoders escape as surrogate pairs) and spaces are written
/// as they are. Invalid UTF-16 or UTF-8 never reaches here: entries are validated when written.</para>
/// </remarks>
internal sealed unsafe class AclJsonEncoder : JavaScriptEncoder
{
    /// <summary>The one instance (the encoder has no state).</summary>
    public static readonly AclJsonEncoder Instance = new();

    /// <summary>Writer options using this encoder.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = Instance };

    private static readonly JavaScriptEncoder Ascii = Default;

    private AclJsonEncoder()
    {
    }

    public override int MaxOutputCharactersPerInputCharacter => Ascii.MaxOutputCharactersPerInputCharacter;

    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar < 0x80 ? Ascii.WillEncode(unicodeScalar) : !Rune.IsValid(unicodeScalar) || Escaped(new Rune(unicodeScalar));

    public override bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten) =>
        Ascii.TryEncodeUnicodeScalar(unicodeScalar, buffer, bufferLength, out numberOfCharactersWritten);

    public override int FindFirstCharacterToEncode(char* text, int textLength)
    {
        var span = new ReadOnlySpan<char>(text, textLength);
        var index = 0;
        while (index < span.Length)
        {
            // The stock encoder finds the next ASCII character to escape or the next non-ASCII one, vectorised.
            int next;
            fixed (char* rest = span[index..])
            {
                next = Ascii.FindFirstCharacterToEncode(rest, span.Length - index);
            }

            if (next < 0)
            {
                return -1;
            }

            index += next;
            if (span[index] < 0x80 || Rune.DecodeFromUtf16(span[index..], out var rune, out var used) != System.Buffers.OperationStatus.Done || Escaped(rune))
            {
                return index;
            }

            index += used;
        }

        return -1;
    }

    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text)
    {
        var index = 0;
        while (index < utf8Text.Length)
        {
            var next = Ascii.FindFirstCharacterToEncodeUtf8(utf8Text[index..]);
            if (next < 0)
            {
                return -1;
            }

            index += next;
            if (utf8Text[index] < 0x80 || Rune.DecodeFromUtf8(utf8Text[index..], out var rune, out var used) != System.Buffers.OperationStatus.Done || Escaped(rune))
            {
                return index;
            }

            index += used;
        }

        return -1;
    }

    /// <summary>A non-ASCII scalar that is escaped: not visible, or unsafe to show as it is.</summary>
    private static bool Escaped(Rune rune) => Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.Surrogate or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator => true,
        _ => false,
    };
}
