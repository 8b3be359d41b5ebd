using System.Text.Json.Nodes;

namespace CrateRun.Core.Network;

/// <summary>
/// Rootless networking with slirp4netns (Debian's package, 1.x): a user-mode TCP/IP stack on
/// the host side that owns a tap device in the container's network namespace and turns its
/// traffic into ordinary sockets of the user. What to run and what to ask its API socket is
/// decided here (pure); starting and stopping it is the Linux layer's (Slirp4netns).
/// </summary>
public static class Slirp4netnsPlan
{
    /// <summary>The mode of --network (the default for a rootless run).</summary>
    public const string Mode = "slirp4netns";

    /// <summary>slirp4netns's defaults with --configure: 10.0.2.0/24, the container at .100, the host at .2, its DNS at .3.</summary>
    public const string Interface = "tap0", GuestAddress = "10.0.2.100", PrefixLength = "24", Gateway = "10.0.2.2", Nameserver = "10.0.2.3";

    /// <summary>Its MTU: the largest slirp4netns takes (podman's default too; 1500 would cut throughput by ~3x).</summary>
    public const int Mtu = 65520;

    /// <summary>
    /// The command line. <c>--configure</c> brings tap0 (and lo) up with the address before the
    /// ready fd is written; <c>--disable-host-loopback</c> keeps the host's 127.0.0.1 out of the
    /// container's reach (the gateway would otherwise forward to it); the API socket takes the
    /// port forwards. With <paramref name="userNamespace"/> it joins the container's user
    /// namespace first (the owner of its network namespace, where the tap device is made).
    /// </summary>
    public static List<string> Arguments(int pid, string apiSocket, int readyFd, string? userNamespace) =>
    [
        "--configure", $"--mtu={Mtu}", "--disable-host-loopback", $"--api-socket={apiSocket}", $"--ready-fd={readyFd}",
        .. userNamespace is null ? Array.Empty<string>() : [$"--userns-path={userNamespace}"],
        pid.ToString(), Interface,
    ];

    /// <summary>The API request that publishes a port: HOST_IP:HOST_PORT on the host to the container's address.</summary>
    public static string AddHostForward(PortMapping p) => new JsonObject
    {
        ["execute"] = "add_hostfwd",
        ["arguments"] = new JsonObject
        {
            ["proto"] = p.Protocol,
            ["host_addr"] = string.IsNullOrEmpty(p.HostIp) ? "0.0.0.0" : p.HostIp,
            ["host_port"] = p.HostPort,
            ["guest_addr"] = GuestAddress,
            ["guest_port"] = p.ContainerPort,
        },
    }.ToJsonString();

    /// <summary>The API's answer: null when it succeeded ({"return": {...}}), else its error text.</summary>
    public static string? ErrorOf(string reply)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(reply); }
        catch (System.Text.Json.JsonException) { return $"not JSON: {reply.Trim()}"; }
        if (node is JsonObject o && o.ContainsKey("return") && !o.ContainsKey("error")) return null;
        return node?["error"]?["desc"]?.GetValue<string>() ?? reply.Trim();
    }

    /// <summary>The pid file's text (pid and start time, so a reused pid is never signalled) and its reading.</summary>
    public static string PidRecord(int pid, ulong startTime) => $"{pid} {startTime}\n";

    public static (int Pid, ulong StartTime)? ParsePidRecord(string? text)
    {
        var parts = (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length == 2 && int.TryParse(parts[0], out var pid) && pid > 0 && ulong.TryParse(parts[1], out var start) ? (pid, start) : null;
    }
}
