using Vellum.Core.Entries;
using Vellum.Core.Identity;
using Vellum.Ledger;
using Vellum.Storage;
using Vellum.Storage.Ledger;

// Usage: Vellum.Storage.CrashHost <data-dir> <round> <Public|Private>
// Appends entries from 64 concurrent writers until killed, printing "ack <seqno> <round> <index>" after each
// append completes (i.e. after the fsync that applied its batch). The parent SIGKILLs this process at a random moment.
var data = new DataDirectory(args[0]);
var round = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var (service, node, secret, isPrivate) = data.OpenOrCreate(args[2] == "Private");
var options = new LedgerStoreOptions
{
    LedgerDirectory = data.Default.Chunks,
    StateDirectory = data.Default.State,
    IsPrivate = isPrivate,
    ChunkSizeThreshold = 64 * 1024,
};
var store = await SingleNodeLedger.OpenAsync(
    options, new SequencerOptions { IsPrivate = isPrivate, SignatureInterval = 50, SignatureDelay = TimeSpan.FromMilliseconds(20) }, secret, service.Certificate, new NodeRootSigner(node));
var output = Console.Out;
var gate = new Lock();
Console.WriteLine($"ready {store.Store.DurableSeqno}");
Console.Out.Flush();
var next = -1;
var writers = new Task[64];
for (var w = 0; w < writers.Length; w++)
{
    writers[w] = Task.Run(async () =>
    {
        while (true)
        {
            var i = Interlocked.Increment(ref next);
            var contents = System.Text.Encoding.UTF8.GetBytes($"round {round} entry {i} " + new string('x', i % 300));
            var tags = i % 3 == 0 ? new[] { "even-third" } : Array.Empty<string>();
            var id = await store.AppendAsync(new UserEntry($"collection-{i % 5}", tags, contents, [])).ConfigureAwait(false);
            lock (gate)
            {
                output.WriteLine($"ack {id.Seqno} {round} {i}");
                output.Flush();
            }
        }
    });
}

await Task.WhenAll(writers).ConfigureAwait(false);
GC.KeepAlive(service);
