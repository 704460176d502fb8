using Vellum.Core.Claims;
using Vellum.Core.Primitives;
using Vellum.Core.Receipts;

namespace Vellum.Core.Tests.Receipts;

public sealed class ReceiptJsonTests
{
    private static Receipt Small() => new()
    {
        Cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        LeafComponents = new LeafComponents
        {
            ClaimsDigest = "00",
            CommitEvidence = "ce:2.40:ab",
            WriteSetDigest = "84",
        },
        NodeId = "70e9",
        Proof = [new ReceiptProofElement { Left = "b782" }, new ReceiptProofElement { Right = "a283" }],
        ServiceEndorsements = [],
        Signature = "MEUC+/==",
    };

    [Fact]
    public void Envelope_uses_acl_field_names_and_order()
    {
        var claims = new[]
        {
            new ApplicationClaim
            {
                Kind = ApplicationClaimKind.LedgerEntry,
                LedgerEntry = new() { CollectionId = "subledger:0", Contents = "Hello world", Protocol = "LedgerEntryV1", SecretKey = "Jde+/=" },
            },
            new ApplicationClaim { Kind = ApplicationClaimKind.ClaimDigest, Digest = new() { Protocol = "p", Value = "00ff" } },
        };
        var json = ReceiptJson.Serialize(TransactionReceipt.Ready(new TxId(2, 40), Small(), claims));

        const string expected =
            "{\"applicationClaims\":[{\"kind\":\"LedgerEntry\",\"ledgerEntry\":{\"collectionId\":\"subledger:0\",\"contents\":\"Hello world\","
            + "\"protocol\":\"LedgerEntryV1\",\"secretKey\":\"Jde+/=\"}},{\"kind\":\"ClaimDigest\",\"digest\":{\"protocol\":\"p\",\"value\":\"00ff\"}}],"
            + "\"receipt\":{\"cert\":\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\","
            + "\"leafComponents\":{\"claimsDigest\":\"00\",\"commitEvidence\":\"ce:2.40:ab\",\"writeSetDigest\":\"84\"},\"nodeId\":\"70e9\","
            + "\"proof\":[{\"left\":\"b782\"},{\"right\":\"a283\"}],\"serviceEndorsements\":[],\"signature\":\"MEUC+/==\"},"
            + "\"state\":\"Ready\",\"transactionId\":\"2.40\"}";
        Assert.Equal(expected, json);
    }

    [Fact]
    public void Writing_into_a_default_writer_keeps_the_receipts_own_escaping()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("receipt");
            ReceiptJson.Write(writer, Small());
            writer.WriteString("state", "Ready");
            writer.WriteEndObject();
        }

        var json = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.Equal("{\"receipt\":" + ReceiptJson.Serialize(Small()) + ",\"state\":\"Ready\"}", json);
        Assert.Contains("MEUC+/==", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Envelope_without_claims_and_loading_envelope_omit_absent_fields()
    {
        var ready = ReceiptJson.Serialize(TransactionReceipt.Ready(new TxId(2, 40), Small(), []));
        Assert.DoesNotContain("applicationClaims", ready, StringComparison.Ordinal);
        Assert.Contains("\"serviceEndorsements\":[]", ready, StringComparison.Ordinal);

        Assert.Equal("""{"state":"Loading","transactionId":"7.9"}""", ReceiptJson.Serialize(TransactionReceipt.Loading(new TxId(7, 9))));
    }

    [Fact]
    public void Round_trip_preserves_everything()
    {
        var envelope = TransactionReceipt.Ready(new TxId(2, 40), Small(), [ApplicationClaim.ForDigest("p", [1, 2])]);
        var json = ReceiptJson.Serialize(envelope);
        Assert.True(ReceiptJson.TryParse(json, out var parsed, out var error), error);
        Assert.Equal(json, ReceiptJson.Serialize(parsed));
        Assert.Equal(ReceiptState.Ready, parsed.State);
        Assert.Equal(envelope.Receipt!.LeafComponents, parsed.Receipt!.LeafComponents);
        Assert.Equal(envelope.ApplicationClaims![0], parsed.ApplicationClaims![0]);
    }

    [Fact]
    public void Snake_case_keys_are_accepted()
    {
        var camel = AclVectors.ReceiptJson("r1");
        var snake = camel
            .Replace("\"leafComponents\"", "\"leaf_components\"", StringComparison.Ordinal)
            .Replace("\"claimsDigest\"", "\"claims_digest\"", StringComparison.Ordinal)
            .Replace("\"commitEvidence\"", "\"commit_evidence\"", StringComparison.Ordinal)
            .Replace("\"writeSetDigest\"", "\"write_set_digest\"", StringComparison.Ordinal)
            .Replace("\"nodeId\"", "\"node_id\"", StringComparison.Ordinal);
        snake = "{\"service_endorsements\": [], " + snake.TrimStart()[1..];
        Assert.Contains("node_id", snake, StringComparison.Ordinal);

        Assert.True(ReceiptJson.TryParseReceipt(snake, out var receipt, out var error), error);
        Assert.NotNull(receipt.LeafComponents?.WriteSetDigest);
        Assert.NotNull(receipt.NodeId);
        Assert.True(ReceiptVerifier.DangerousVerifyWithoutEndorsement(receipt).IsValid);

        Assert.True(ReceiptJson.TryParseReceipt(camel, out var fromCamel, out _));
        Assert.Equal(ReceiptJson.Serialize(fromCamel), ReceiptJson.Serialize(receipt with { ServiceEndorsements = null }));
    }

    [Fact]
    public void Snake_case_envelope_and_claims_are_accepted()
    {
        const string json = """
            {"application_claims":[{"kind":"LedgerEntry","ledger_entry":{"collection_id":"subledger:0","contents":"Hello world",
              "protocol":"LedgerEntryV1","secret_key":"Jde/VvaIfyrjQ/B19P+UJCBwmcrgN7sERStoyHnYO0M="}}],
             "state":"Ready","transaction_id":"2.13"}
            """;
        Assert.True(ReceiptJson.TryParse(json, out var envelope, out var error), error);
        Assert.Equal("2.13", envelope.TransactionId);
        Assert.Equal(AclVectors.ExpectedClaimsDigest, ClaimsDigest.Compute(envelope.ApplicationClaims!).ToString());
    }

    [Theory]
    [InlineData("snake_case", "snakeCase")]
    [InlineData("leaf_components", "leafComponents")]
    [InlineData("write_set_digest", "writeSetDigest")]
    [InlineData("nodeId", "nodeId")]
    [InlineData("_leading", "leading")]
    [InlineData("trailing_", "trailing")]
    [InlineData("a__b", "aB")]
    public void Key_conversion(string input, string expected) => Assert.Equal(expected, ReceiptJson.ToCamelCase(input));

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{")]
    [InlineData("{\"cert\": 5}")]
    [InlineData("{\"proof\": {}}")]
    [InlineData("{\"proof\": [{\"left\": 1}]}")]
    [InlineData("{\"serviceEndorsements\": [1]}")]
    [InlineData("{} trailing")]
    [InlineData("{\"cert\": \"x\",}")]
    [InlineData("{\"cert\": \"\\ud800\"}")]
    public void Malformed_receipt_json_is_an_error(string json)
    {
        Assert.False(ReceiptJson.TryParseReceipt(json, out var receipt, out var error));
        Assert.Null(receipt);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("{\"transactionId\":\"2.40\"}")]
    [InlineData("{\"state\":\"Done\"}")]
    [InlineData("{\"state\":\"Ready\",\"applicationClaims\":[{\"kind\":\"Other\"}]}")]
    [InlineData("{\"state\":\"Ready\",\"applicationClaims\":[{\"ledgerEntry\":{}}]}")]
    public void Malformed_envelope_json_is_an_error(string json)
    {
        Assert.False(ReceiptJson.TryParse(json, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Invalid_utf8_is_an_error()
    {
        byte[] json = [.. "{\"cert\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.False(ReceiptJson.TryParseReceipt(json, out _, out _));
    }

    [Fact]
    public void Deep_nesting_is_an_error()
    {
        var json = "{\"x\":" + new string('[', 100) + new string(']', 100) + "}";
        Assert.False(ReceiptJson.TryParseReceipt(json, out _, out _));
    }

    [Fact]
    public void Unknown_and_legacy_fields_are_ignored()
    {
        Assert.True(ReceiptJson.TryParseReceipt("""{"leaf":"ab","root":"cd","nodeId":"ef","future":{"a":[1,2.5e3,true,null]}}""", out var receipt, out _));
        Assert.Equal("ef", receipt.NodeId);

        // A legacy receipt has no cert or leafComponents: the verifier rejects its shape rather than throwing.
        Assert.Equal(ReceiptVerificationStep.Shape, ReceiptVerifier.DangerousVerifyWithoutEndorsement(receipt).FailedStep);
    }
}
