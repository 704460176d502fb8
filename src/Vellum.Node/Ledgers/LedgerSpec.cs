using System.Diagnostics.CodeAnalysis;
using Vellum.Core.Identity;

namespace Vellum.Node.Ledgers;

/// <summary>A ledger a node is asked to serve: its name and, for a new one, its type (null: Public, or what it has).</summary>
/// <param name="Name">The ledger's name.</param>
/// <param name="IsPrivate">True for Private, false for Public; null when not given (a new ledger is then Public).</param>
public sealed record LedgerSpec(LedgerName Name, bool? IsPrivate)
{
    /// <summary>
    /// For a ledger the control plane makes: its resource, kept in the ledger's folder before the ledger is adopted,
    /// whose principals (not the deployment's Administrators) become the ledger's first users.
    /// </summary>
    public Management.LedgerResource? Resource { get; init; }

    /// <summary>
    /// Parses <c>NAME</c> or <c>NAME:Public</c> / <c>NAME:Private</c> (the command line's <c>--ledger</c>). False with a
    /// one-line error naming what is wrong.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out LedgerSpec? spec, [NotNullWhen(false)] out string? error)
    {
        spec = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "a ledger is NAME or NAME:Public or NAME:Private";
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var nameText = colon < 0 ? text : text[..colon];
        bool? isPrivate = null;
        if (colon >= 0)
        {
            switch (text[(colon + 1)..])
            {
                case "Public": isPrivate = false; break;
                case "Private": isPrivate = true; break;
                default:
                    error = $"'{text}': the type after ':' is Public or Private, not '{text[(colon + 1)..]}'";
                    return false;
            }
        }

        if (!LedgerName.TryParse(nameText, out var name, out var nameError))
        {
            error = $"'{text}': {nameError}";
            return false;
        }

        spec = new LedgerSpec(name, isPrivate);
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => IsPrivate switch { null => Name.Value, true => Name.Value + ":Private", false => Name.Value + ":Public" };
}
