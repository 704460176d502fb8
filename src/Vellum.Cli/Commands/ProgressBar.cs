using System.Diagnostics;
using System.Globalization;
using Vellum.Storage.Verification;

namespace Vellum.Cli.Commands;

/// <summary>A one-line progress bar on standard error, redrawn at most ten times a second; erased when done.</summary>
internal sealed class ProgressBar : IDisposable
{
    private const int Width = 30;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;
    private bool _drawn;

    public void Report(VerificationProgress progress)
    {
        var now = _clock.ElapsedMilliseconds;
        if (now - _lastDraw < 100 && progress.BytesDone < progress.BytesTotal)
        {
            return;
        }

        _lastDraw = now;
        var fraction = progress.BytesTotal == 0 ? 1 : (double)progress.BytesDone / progress.BytesTotal;
        var filled = (int)(fraction * Width);
        var rate = now > 0 ? progress.Transactions * 1000.0 / now : 0;
        Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,5:F1}% {progress.Transactions:N0} tx {rate:N0} tx/s "));
        _drawn = true;
    }

    public void Dispose()
    {
        if (_drawn)
        {
            Console.Error.Write("\r" + new string(' ', Width + 60) + "\r");
            _drawn = false;
        }
    }
}
