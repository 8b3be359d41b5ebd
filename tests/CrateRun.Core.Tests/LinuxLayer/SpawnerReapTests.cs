using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using CrateRun.Core.Tests.Images;
using CrateRun.Linux.Process;

namespace CrateRun.Core.Tests.LinuxLayer;

/// <summary>
/// What running a CNI plugin costs the thread that runs it (Spawner.Run: spawn, read its output,
/// reap it). The bridge plugin enters the container's network namespace on ADD; reaping it the
/// moment it turned zombie cost the caller 3-7 ms of CPU in wait4 on this machine's kind, against
/// ~0.5 ms for a plugin that enters no namespace. Everything runs in two network namespaces made
/// here (the bridge's side through tests/fixtures/in-netns.sh, the container's side as CNI_NETNS).
/// </summary>
public sealed partial class SpawnerReapTests : IDisposable
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;
    private const string Plugins = "/usr/lib/cni";

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clock, ref Timespec ts);

    private static double ThreadCpuMs()
    {
        var ts = default(Timespec);
        Assert.Equal(0, clock_gettime(CLOCK_THREAD_CPUTIME_ID, ref ts));
        return ts.Seconds * 1e3 + ts.Nanoseconds / 1e6;
    }

    private readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    private readonly TempDir _dir = new();
    private string HostNs => "crsp-h-" + _suffix;
    private string ContainerNs => "crsp-c-" + _suffix;

    public void Dispose()
    {
        foreach (var ns in new[] { HostNs, ContainerNs })
            System.Diagnostics.Process.Start("ip", ["netns", "del", ns])?.WaitForExit();
        _dir.Dispose();
    }

    private static void Ip(params string[] args)
    {
        using var p = System.Diagnostics.Process.Start("ip", args)!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "ip " + string.Join(' ', args));
    }

    /// <summary>One call of the bridge plugin, run in the host-side namespace; the caller's CPU (ms) and the plugin's output.</summary>
    private (double CpuMs, Spawner.Output Run) Bridge(string command, string containerId, string stdin)
    {
        string[] argv = ["/bin/sh", Repo.File("tests/fixtures/in-netns.sh"), HostNs, Path.Combine(Plugins, "bridge")];
        string[] env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", $"CNI_COMMAND={command}", $"CNI_CONTAINERID={containerId}",
            $"CNI_NETNS=/run/netns/{ContainerNs}", "CNI_IFNAME=eth0", $"CNI_PATH={Plugins}"];
        var before = ThreadCpuMs();
        var run = Spawner.Run(argv[0], argv, env, stdin, 30_000);
        var cpu = ThreadCpuMs() - before;
        Assert.True(run.ExitCode == 0, $"bridge {command}: exit {run.ExitCode}: {run.Stdout} {run.Stderr}");
        return (cpu, run);
    }

    [RootFact]
    public void Running_the_bridge_plugin_into_a_namespace_costs_the_caller_about_what_a_version_query_does()
    {
        Assert.True(File.Exists(Path.Combine(Plugins, "bridge")), $"{Plugins}/bridge: containernetworking-plugins is not installed (tests/install-prereqs.sh)");
        Ip("netns", "add", HostNs);
        Ip("netns", "add", ContainerNs);
        var conf = new JsonObject
        {
            ["cniVersion"] = "1.0.0", ["name"] = "spawnertest", ["type"] = "bridge", ["bridge"] = "crsp0", ["isGateway"] = true,
            ["ipam"] = new JsonObject
            {
                ["type"] = "host-local", ["dataDir"] = _dir.Dir("ipam"),
                ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = "10.217.0.0/24" })),
            },
        };
        var adds = new List<double>();
        var versions = new List<double>();
        for (var i = 0; i < 9; i++)
        {
            versions.Add(Bridge("VERSION", "v", "{\"cniVersion\":\"1.0.0\"}").CpuMs);
            var (cpu, add) = Bridge("ADD", $"c{i}", conf.ToJsonString());
            adds.Add(cpu);
            var del = (JsonObject)conf.DeepClone();
            del["prevResult"] = JsonNode.Parse(add.Stdout);
            Bridge("DEL", $"c{i}", del.ToJsonString()); // the veth goes, the address is released
        }
        static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
        Assert.True(Median(adds) < Median(versions) + 1.5,
            $"the caller's CPU for an ADD into a namespace, median {Median(adds):F2} ms, against {Median(versions):F2} ms for VERSION " +
            $"(ADD: {string.Join(' ', adds.Select(a => a.ToString("F2")))})");
    }
}
