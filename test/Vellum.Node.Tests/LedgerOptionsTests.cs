using Vellum.Core.Identity;
using Vellum.Node.Ledgers;

namespace Vellum.Node.Tests;

/// <summary>The node options the many-ledgers work added: each bad value is refused by Validate, naming it.</summary>
public sealed class LedgerOptionsTests
{
    private static readonly LedgerSpec Alpha = new(LedgerName.Parse("alpha"), null);

    [Fact]
    public void Bad_ledger_and_signature_options_are_refused_naming_the_option()
    {
        Assert.Equal("MaxSignaturesPerSecond", Refused(new NodeOptions { DataDirectory = "unused", MaxSignaturesPerSecond = 0 }));
        Assert.Equal("MaxSignaturesPerSecond", Refused(new NodeOptions { DataDirectory = "unused", MaxSignaturesPerSecond = NodeOptions.MaxSignaturesPerSecondLimit + 1 }));
        Assert.Equal("SignatureDelay", Refused(new NodeOptions { DataDirectory = "unused", SignatureDelay = TimeSpan.Zero }));
        Assert.Equal("Domain", Refused(new NodeOptions { DataDirectory = "unused", Domain = "not a domain" }));
        Assert.Equal("Ledgers", Refused(new NodeOptions { DataDirectory = "unused", Ledgers = [Alpha, Alpha with { IsPrivate = true }] }));
        Assert.Equal("TileCacheTiles", Refused(new NodeOptions { DataDirectory = "unused", TileCacheTiles = 0 }));

        // A ledger's own options are checked with the node's, each naming itself.
        Assert.Equal("MaxTags", Refused(new NodeOptions { DataDirectory = "unused", LedgerDefaults = new LedgerOptions { MaxTags = 0 } }));
        Assert.Equal("SignatureInterval", Refused(new NodeOptions { DataDirectory = "unused", LedgerDefaults = new LedgerOptions { SignatureInterval = -1 } }));
        Assert.Equal("PageSize", Refused(new NodeOptions { DataDirectory = "unused", LedgerDefaults = new LedgerOptions { PageSize = 0 } }));
        new NodeOptions { DataDirectory = "unused", Ledgers = [Alpha], Domain = "ledger.example", MaxSignaturesPerSecond = 1 }.Validate();
        new NodeOptions { DataDirectory = "unused", MaxSignaturesPerSecond = NodeOptions.MaxSignaturesPerSecondLimit }.Validate();
    }

    private static string? Refused(NodeOptions options) => Assert.Throws<ArgumentException>(options.Validate).ParamName;
}
