using System.CommandLine;
using Vellum.Cli.Commands;

if (args.Length > 0 && args[0] == "bench")
{
    // The load generator parses its own options (see bench/README.md); exit 0 ran, 1 could not run, 2 bad options.
    return await Vellum.LoadGen.LoadGenerator.RunCommandLineAsync(args[1..], Console.Out, Console.Error);
}

var root = new RootCommand("Vellum: a self-hostable confidential ledger. 'vellum <command> --help' for a command's options.");
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(StartCommand.Create());
root.Subcommands.Add(JoinCommand.Create());
root.Subcommands.Add(new Command("bench", "Load-test a running node (closed loop; append, get, receipt, mixed, noop-post, noop-get). 'vellum bench --help' for options."));

if (args.Length == 0)
{
    // A bare 'vellum' is most often a first try: say where the commands are rather than only that one is missing.
    Console.Error.WriteLine("usage: vellum <start|join|verify|generate|bench> [options]");
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
