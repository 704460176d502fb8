using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Vellum.Core.Primitives;

/// <summary>
/// A transaction id <c>view.seqno</c>, as ACL and CCF print it (for example <c>2.40</c>).
/// </summary>
/// <remarks>
/// Both parts are positive 63-bit integers. The text form is strict so that one transaction has exactly one
/// spelling: ASCII digits only, no sign, no leading zeros, no whitespace, exactly one dot, and neither part zero.
/// <c>1.</c>, <c>.1</c>, <c>-1.2</c>, <c>+1.2</c>, <c>01.2</c>, <c>1.02</c>, <c>1.2.3</c>, <c>0.1</c> and values
/// above <see cref="long.MaxValue"/> are all rejected.
/// </remarks>
public readonly record struct TxId(long View, long Seqno) : ISpanFormattable
{
    /// <summary>The longest text form: two 19-digit numbers and a dot.</summary>
    public const int MaxLength = 39;

    /// <summary>True when both parts are positive, i.e. this id can name a transaction.</summary>
    public bool IsValid => View > 0 && Seqno > 0;

    /// <summary>Parses the strict text form or throws <see cref="FormatException"/>.</summary>
    public static TxId Parse(ReadOnlySpan<char> text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"'{text}' is not a transaction id of the form view.seqno.");

    /// <summary>Parses the strict text form described on <see cref="TxId"/>.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out TxId id)
    {
        id = default;
        var dot = text.IndexOf('.');
        if (dot < 0 || text.Length > MaxLength)
        {
            return false;
        }

        if (!TryParsePart(text[..dot], out var view) || !TryParsePart(text[(dot + 1)..], out var seqno))
        {
            return false;
        }

        id = new TxId(view, seqno);
        return true;
    }

    /// <summary>Parses a string, accepting null as "not an id".</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out TxId id)
    {
        if (text is null)
        {
            id = default;
            return false;
        }

        return TryParse(text.AsSpan(), out id);
    }

    private static bool TryParsePart(ReadOnlySpan<char> part, out long value)
    {
        value = 0;
        if (part.IsEmpty || part.Length > 19 || part[0] == '0')
        {
            return false;
        }

        foreach (var c in part)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            var digit = c - '0';
            if (value > (long.MaxValue - digit) / 10)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{View}.{Seqno}");

    /// <inheritdoc />
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc />
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        destination.TryWrite(CultureInfo.InvariantCulture, $"{View}.{Seqno}", out charsWritten);
}
