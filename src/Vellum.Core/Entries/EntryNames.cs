using System.Globalization;
using System.Text;

namespace Vellum.Core.Entries;

/// <summary>
/// The character rule for collection ids and tags: no control characters (Unicode category Cc: NUL, CR, LF, TAB, ESC,
/// …) and no format characters (Cf: bidi overrides such as U+202E, zero-width characters such as U+200B, U+FEFF),
/// and only valid Unicode text. Names are echoed to other users and into operators' tools, where controls inject
/// (terminal escapes, line breaks, NUL truncation) and format characters make one name render as another.
/// </summary>
public static class EntryNames
{
    /// <summary>
    /// Checks <paramref name="name"/> against the rule; returns null when it passes, else a message naming
    /// <paramref name="what"/> (e.g. "collection id") and the first offending character by code point, never
    /// echoing the name itself.
    /// </summary>
    public static string? Problem(string what, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var index = 0;
        while (index < name.Length)
        {
            if (Rune.DecodeFromUtf16(name.AsSpan(index), out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return $"The {what} is not valid Unicode text (an unpaired surrogate at index {index}).";
            }

            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format)
            {
                var kind = category == UnicodeCategory.Control ? "a control" : "a format";
                return $"The {what} has U+{rune.Value:X4} ({kind} character) at index {index}: " +
                    "control and format characters (Unicode categories Cc and Cf) are not allowed.";
            }

            index += consumed;
        }

        return null;
    }
}
