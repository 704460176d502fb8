using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Vellum.Consensus.Tests;

/// <summary>Keeps log events in memory, so tests can assert on them and print them when a test fails.</summary>
internal sealed class LogSink : ILoggerFactory
{
    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyCollection<Entry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new SinkLogger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public bool Contains(int eventId) => _entries.Any(e => e.EventId.Id == eventId);

    public void WriteTo(ITestOutputHelper? output, LogLevel minimum = LogLevel.Information, int max = 300)
    {
        if (output is null)
        {
            return;
        }

        foreach (var entry in _entries.Where(e => e.Level >= minimum).Take(max))
        {
            output.WriteLine($"{entry.Time:HH:mm:ss.fff} {entry.Level} {entry.Category} [{entry.EventId.Id}] {entry.Message}{(entry.Exception is null ? "" : " -- " + entry.Exception.GetType().Name + ": " + entry.Exception.Message)}");
        }
    }

    public sealed record Entry(DateTime Time, string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception);

    private sealed class SinkLogger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                sink._entries.Enqueue(new Entry(DateTime.UtcNow, category, logLevel, eventId, formatter(state, exception), exception));
            }
        }
    }
}
