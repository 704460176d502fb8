using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vellum.Node.Endpoints;

namespace Vellum.Node.Tests;

/// <summary>
/// JSON bodies are built in a buffer each thread reuses (<see cref="AclResponses.Json{TState}"/>): a body must never
/// carry bytes of the one before it, whatever their sizes, and a build that throws must leave the buffer usable.
/// </summary>
public sealed class JsonBodyTests
{
    private static async Task<(string Body, long? Length, int Status, string? Type)> Write<TState>(
        TState state, Action<Utf8JsonWriter, TState> build, int status = StatusCodes.Status200OK)
    {
        var context = new DefaultHttpContext();
        using var body = new MemoryStream();
        context.Response.Body = body;
        await AclResponses.Json(context, state, build, status);
        await context.Response.BodyWriter.CompleteAsync();
        return (Encoding.UTF8.GetString(body.ToArray()), context.Response.ContentLength, context.Response.StatusCode, context.Response.ContentType);
    }

    [Fact]
    public async Task Bodies_of_any_size_one_after_another_on_one_thread_carry_only_their_own_bytes()
    {
        // Synchronous all the way down (a MemoryStream), so every body below is built on this one thread.
        foreach (var size in new[] { 10, 70_000, 3, 16 * 1024, 1, 200_000, 0 })
        {
            var text = new string('x', size);
            var (json, length, status, type) = await Write(text, static (writer, text) => writer.WriteString("contents", text));

            Assert.Equal($"{{\"contents\":\"{text}\"}}", json);
            Assert.Equal(Encoding.UTF8.GetByteCount(json), length);
            Assert.Equal((StatusCodes.Status200OK, "application/json"), (status, type));
        }
    }

    [Fact]
    public async Task A_build_that_throws_leaves_the_next_body_whole()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => Write(0, static (writer, _) =>
        {
            writer.WriteString("half", new string('y', 40_000));
            throw new InvalidOperationException("the build failed half way");
        }));

        var (json, length, _, _) = await Write(7, static (writer, n) => writer.WriteNumber("n", n), StatusCodes.Status201Created);
        Assert.Equal("{\"n\":7}", json);
        Assert.Equal(7, length);
    }

    [Fact]
    public async Task Errors_keep_the_acl_shape_and_status()
    {
        var context = new DefaultHttpContext();
        using var body = new MemoryStream();
        context.Response.Body = body;
        await AclResponses.Error(context, AclErrors.TransactionNotFound, "Transaction 2.9 is not in collection 'c'.");
        await context.Response.BodyWriter.CompleteAsync();

        Assert.Equal(AclErrors.TransactionNotFound.Status, context.Response.StatusCode);
        using var error = JsonDocument.Parse(body.ToArray());
        Assert.Equal("TransactionNotFound", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("Transaction 2.9 is not in collection 'c'.", error.RootElement.GetProperty("error").GetProperty("message").GetString());
    }
}
