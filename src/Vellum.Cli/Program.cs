using System.CommandLine;
using Vellum.Cli.Commands;

var root = new RootCommand("Vellum: a self-hostable confidential ledger. 'vellum <command> --help' for a command's options.");
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(StartCommand.Create());
root.Subcommands.Add(JoinCommand.Create());
root.Subcommands.Add(LedgerCommand.Create());

if (args.Length == 0)
{
    // A bare 'vellum' is most often a first try: say where the commands are rather than only that one is missing.
    Console.Error.WriteLine("usage: vellum <start|join|ledger|verify|generate> [options]");
    Console.Error.WriteLine("'vellum --help' lists the commands; 'vellum <command> --help' a command's options.");
    return 2;
}

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // Usage errors exit 2, so that 1 always means "the ledger failed verification".
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"vellum: {error.Message}");
    }

    return 2;
}

return await parsed.InvokeAsync();
