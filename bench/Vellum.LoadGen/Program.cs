using Vellum.LoadGen;

// Ctrl-C ends the measured window early; the report covers what was measured.
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

return await LoadGenerator.RunCommandLineAsync(args, Console.Out, Console.Error, stop.Token);
