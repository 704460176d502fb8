using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Vellum.Core.Entries;

/// <summary>The JSON body a client writes an entry with: ACL's <c>LedgerEntry</c>, <c>{"contents": "…"}</c>.</summary>
public static class LedgerEntryJson
{
    /// <summary>How deeply the body may nest (the extra properties a client may send are read, not kept).</summary>
    public const int MaxDepth = 16;

    /// <summary>
    /// Reads <c>contents</c> (UTF-8 bytes after JSON decoding) from a body that is exactly one JSON object; other
    /// properties (read-only in ACL's schema) are ignored. Refuses a property name that appears twice in one object,
    /// at any depth and however it is escaped (<c>"\u0063ontents"</c> is <c>"contents"</c>): with duplicates a reader
    /// that takes the first value and one that takes the last would disagree about what was written.
    /// </summary>
    public static bool TryReadContents(ReadOnlySpan<byte> json, out byte[] contents, [NotNullWhen(false)] out string? problem)
    {
        contents = [];
        // Object ids by reader depth: the property names at depth d belong to the object objects[d - 1]. Names seen
        // are kept as (object id, name) in one set, made only when a body has a property other than the first
        // "contents" of the top-level object, so the usual body costs no allocation for the check.
        Span<int> objects = stackalloc int[MaxDepth + 1];
        var nextObject = 1;
        HashSet<(int Object, string Name)>? seen = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "The request body must be a JSON object with a 'contents' string.";
                return false;
            }

            objects[0] = 0;
            var found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isContents = reader.ValueTextEquals("contents"u8);
                string? name = null;
                if (isContents ? found : !IsNew(ref reader, 0, ref seen, out name))
                {
                    problem = Twice(name ?? "contents");
                    return false;
                }

                reader.Read();
                if (isContents)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        problem = "'contents' must be a string.";
                        return false;
                    }

                    var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
                    var buffer = new byte[length];
                    var written = reader.CopyString(buffer);
                    contents = written == length ? buffer : buffer[..written];
                    found = true;
                }
                else if (SkipChecked(ref reader, objects, ref nextObject, ref seen) is { } duplicate)
                {
                    problem = Twice(duplicate);
                    return false;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                problem = "The request body is not a single JSON object.";
                return false;
            }

            if (!found)
            {
                problem = "The request body has no 'contents'.";
                return false;
            }

            problem = null;
            return true;
        }
        catch (JsonException ex)
        {
            problem = $"The request body is not valid JSON: {ex.Message}";
            return false;
        }
        catch (InvalidOperationException)
        {
            // CopyString and GetString refuse escapes that do not make valid UTF-8 (a lone surrogate such as \ud800).
            contents = [];
            problem = "The request body has a string that is not valid Unicode text.";
            return false;
        }
    }

    /// <summary>
    /// Moves past the value the reader is on, as <see cref="Utf8JsonReader.Skip"/> does, noting the property names of
    /// every object inside it; returns the first name seen twice in one object, or null.
    /// </summary>
    private static string? SkipChecked(ref Utf8JsonReader reader, scoped Span<int> objects, ref int nextObject, ref HashSet<(int, string)>? seen)
    {
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
        {
            return null;
        }

        // Every token inside the value is deeper than its first token; its closing token is at the same depth.
        var start = reader.CurrentDepth;
        do
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                objects[reader.CurrentDepth] = nextObject++;
            }
            else if (reader.TokenType == JsonTokenType.PropertyName && !IsNew(ref reader, objects[reader.CurrentDepth - 1], ref seen, out var name))
            {
                return name;
            }
        }
        while (reader.Read() && reader.CurrentDepth > start);

        return null;
    }

    /// <summary>The message for a repeated name, cut short: a name may be most of a 1 MiB body.</summary>
    private static string Twice(string name) =>
        $"The request body has the property '{(name.Length <= 64 ? name : string.Concat(name.AsSpan(0, 64), "…"))}' twice in one object.";

    private static bool IsNew(ref Utf8JsonReader reader, int objectId, ref HashSet<(int, string)>? seen, out string name)
    {
        name = reader.GetString()!;
        seen ??= [];
        return seen.Add((objectId, name));
    }
}
