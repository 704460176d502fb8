using System.Diagnostics.CodeAnalysis;

namespace Vellum.Core.Identity;

/// <summary>
/// A ledger's name: 3 to 32 characters of <c>a-z</c>, <c>0-9</c> and <c>-</c>, starting with a letter and not ending
/// with <c>-</c>. A name is a DNS label (the ledger is served at <c>{name}.{domain}</c>), so names are unique across a
/// deployment; they are compared case-insensitively and always written in lower case (host names, folders).
/// </summary>
/// <remarks>
/// Only ASCII letters count: a name that lower-cases to ASCII only through Unicode rules (the Kelvin sign, a dotted
/// capital I) is refused rather than folded, so two spellings can never name one ledger.
/// </remarks>
public readonly struct LedgerName : IEquatable<LedgerName>
{
    /// <summary>The fewest characters a name has.</summary>
    public const int MinLength = 3;

    /// <summary>The most characters a name has.</summary>
    public const int MaxLength = 32;

    private readonly string? _value;

    private LedgerName(string value) => _value = value;

    /// <summary>The ledger that a data folder made before ledgers had names holds, and that a bare <c>vellum start</c> serves.</summary>
    public static LedgerName Default { get; } = new("default");

    /// <summary>The name in lower case.</summary>
    public string Value => _value ?? Default._value!;

    /// <summary>Parses a name, ignoring the case of ASCII letters; on failure says which rule it breaks.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out LedgerName name, [NotNullWhen(false)] out string? error)
    {
        name = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "a ledger name is required";
            return false;
        }

        if (text.Length is < MinLength or > MaxLength)
        {
            error = $"a ledger name has {MinLength} to {MaxLength} characters; '{Printable(text)}' has {text.Length}";
            return false;
        }

        Span<char> lower = stackalloc char[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is >= 'A' and <= 'Z')
            {
                c = (char)(c + ('a' - 'A'));
            }

            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-'))
            {
                error = $"a ledger name has only the letters a-z, digits and '-'; '{Printable(text)}' has '{Printable(text[i].ToString())}' at position {i + 1}";
                return false;
            }

            lower[i] = c;
        }

        if (lower[0] is not (>= 'a' and <= 'z'))
        {
            error = $"a ledger name starts with a letter; '{Printable(text)}' does not";
            return false;
        }

        if (lower[^1] == '-')
        {
            error = $"a ledger name does not end with '-'; '{Printable(text)}' does";
            return false;
        }

        name = new LedgerName(new string(lower));
        error = null;
        return true;
    }

    /// <summary>Parses a name or throws <see cref="FormatException"/> with the rule it breaks.</summary>
    public static LedgerName Parse(string? text) =>
        TryParse(text, out var name, out var error) ? name : throw new FormatException(error);

    /// <inheritdoc />
    public bool Equals(LedgerName other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is LedgerName other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>The name in lower case.</summary>
    public override string ToString() => Value;

    /// <summary>Equal names.</summary>
    public static bool operator ==(LedgerName left, LedgerName right) => left.Equals(right);

    /// <summary>Different names.</summary>
    public static bool operator !=(LedgerName left, LedgerName right) => !left.Equals(right);

    // Error messages echo what was given; control and format characters are shown as code points so that a message
    // cannot carry terminal escapes or reorder itself.
    private static string Printable(string text)
    {
        var clipped = text.Length > 64 ? text[..64] + "…" : text;
        var builder = new System.Text.StringBuilder(clipped.Length);
        foreach (var c in clipped)
        {
            if (char.IsControl(c) || System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            {
                builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"U+{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
