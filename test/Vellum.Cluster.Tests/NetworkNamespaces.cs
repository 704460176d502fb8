using System.Diagnostics;

namespace Vellum.Cluster.Tests;

/// <summary>
/// Hosts of their own on one machine: a network namespace per member, each joined by a veth pair to a bridge in the
/// test's namespace (which gets the subnet's .1, so the test reaches every member). Cutting a member's link on the
/// bridge side isolates it from everyone — other members and the test alike — until it is restored.
/// </summary>
internal sealed class NetworkNamespaces : IDisposable
{
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6];
    private readonly List<string[]> _undo = [];

    private NetworkNamespaces(int count, int subnet)
    {
        Names = [.. Enumerable.Range(0, count).Select(i => $"vl{_tag}{i}")];
        Hosts = [.. Enumerable.Range(0, count).Select(i => $"10.{subnet}.0.{11 + i}")];
        Bridge = $"vlb{_tag}";
    }

    public string[] Names { get; }

    public string[] Hosts { get; }

    public string Bridge { get; }

    /// <summary>Makes the namespaces, or returns null with the reason when this machine cannot (not root, no iproute2).</summary>
    public static NetworkNamespaces? TryCreate(int count, out string? reason)
    {
        var spaces = new NetworkNamespaces(count, 100 + Random.Shared.Next(100));
        try
        {
            var subnet = spaces.Hosts[0][..spaces.Hosts[0].LastIndexOf('.')];
            spaces.Run("link", "add", spaces.Bridge, "type", "bridge");
            spaces._undo.Add(["link", "del", spaces.Bridge]);
            spaces.Run("addr", "add", $"{subnet}.1/24", "dev", spaces.Bridge);
            spaces.Run("link", "set", spaces.Bridge, "up");
            for (var i = 0; i < count; i++)
            {
                var name = spaces.Names[i];
                spaces.Run("netns", "add", name);
                spaces._undo.Add(["netns", "del", name]);
                spaces.Run("link", "add", spaces.Outside(i), "type", "veth", "peer", "name", spaces.Inside(i));
                spaces._undo.Add(["link", "del", spaces.Outside(i)]);
                spaces.Run("link", "set", spaces.Inside(i), "netns", name);
                spaces.Run("link", "set", spaces.Outside(i), "master", spaces.Bridge);
                spaces.Run("link", "set", spaces.Outside(i), "up");
                spaces.Run("netns", "exec", name, "ip", "addr", "add", $"{spaces.Hosts[i]}/24", "dev", spaces.Inside(i));
                spaces.Run("netns", "exec", name, "ip", "link", "set", spaces.Inside(i), "up");
                spaces.Run("netns", "exec", name, "ip", "link", "set", "lo", "up");
            }

            reason = null;
            return spaces;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            spaces.Dispose();
            reason = ex.Message;
            return null;
        }
    }

    /// <summary>Cuts member <paramref name="i"/> off from every other member and from the test.</summary>
    public void Isolate(int i) => Run("link", "set", Outside(i), "down");

    public void Heal(int i) => Run("link", "set", Outside(i), "up");

    private string Outside(int i) => $"vlo{_tag}{i}";

    private string Inside(int i) => $"vli{_tag}{i}";

    private void Run(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit(10_000);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {error.Trim()}");
        }
    }

    public void Dispose()
    {
        for (var i = _undo.Count - 1; i >= 0; i--)
        {
            try
            {
                Run(_undo[i]);
            }
            catch (InvalidOperationException)
            {
                // Deleting a namespace removes its end of the veth pair, and with it the other end.
            }
        }
    }
}
