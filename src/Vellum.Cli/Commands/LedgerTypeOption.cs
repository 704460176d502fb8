namespace Vellum.Cli.Commands;

/// <summary>The <c>--ledger-type</c> value shared by <c>start</c> and <c>generate</c>.</summary>
internal static class LedgerTypeOption
{
    /// <summary>Null text means "keep what the data folder has"; otherwise Public or Private, exactly.</summary>
    public static bool TryParse(string? text, out bool? isPrivate)
    {
        isPrivate = text switch { null => null, "Public" => false, "Private" => true, _ => null };
        return text is null || isPrivate is not null;
    }
}
