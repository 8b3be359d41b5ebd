using System.Text.Json;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// A network sandbox: a network namespace made for one test (`ip netns add crnet-XXXX`), in which
/// every craterun runs (tests/fixtures/in-netns.sh, as `ip netns exec`), so the CNI plugins it execs make their bridge, veths
/// and iptables rules there and never in this machine's own namespace. Its own state root, so
/// nothing outside the sandbox ever runs a DEL for its containers. Disposal removes every
/// container (inside), checks nothing is left, and deletes the namespace.
/// </summary>
public sealed class NetSandbox : IAsyncDisposable
{
    public string Name { get; } = "crnet-" + Guid.NewGuid().ToString("N")[..8];
    public string StateRoot { get; } = Directory.CreateTempSubdirectory("crnet-state-").FullName;
    public string Busybox { get; }
    private readonly CrateRunFixture _f;

    private NetSandbox(CrateRunFixture f)
    {
        _f = f;
        Busybox = Path.Combine(f.Rootfs, "bin", "busybox");
    }

    public static async Task<NetSandbox> Create(CrateRunFixture f)
    {
        var s = new NetSandbox(f);
        var add = await Proc.Run("ip", ["netns", "add", s.Name]);
        Assert.True(add.ExitCode == 0, add.ToString());
        await s.Sh("ip link set lo up");
        return s;
    }

    private Dictionary<string, string> Env => new()
    {
        [CrateRunFixture.MarkerVariable] = StateRoot,
        ["CRATERUN_NETWORK"] = "", // the product's default (bridge, as root), not the suite's "none"
    };

    /// <summary>craterun --root STATE ARGS..., inside the sandbox.</summary>
    public Task<ProcResult> Cr(params string[] args) =>
        Proc.Run(InNetns, [Name, _f.Binary, "--root", StateRoot, .. args], env: Env, timeout: TimeSpan.FromSeconds(90));

    /// <summary>As <see cref="Cr"/>, with CRATERUN_CNI_PATH set: where craterun looks for the plugins first.</summary>
    public Task<ProcResult> CrWithPluginPath(string pluginPath, params string[] args)
    {
        var env = Env;
        env["CRATERUN_CNI_PATH"] = pluginPath;
        return Proc.Run(InNetns, [Name, _f.Binary, "--root", StateRoot, .. args], env: env, timeout: TimeSpan.FromSeconds(90));
    }

    /// <summary>tests/fixtures/in-netns.sh: `ip netns exec` that keeps /sys/fs/cgroup visible.</summary>
    public static string InNetns => Path.Combine(Prerequisites.RepoRoot, "tests", "fixtures", "in-netns.sh");

    /// <summary>A shell command on the sandbox's host side (its namespace, the host's files).</summary>
    public Task<ProcResult> Sh(string script) => Proc.Run(InNetns, [Name, "/bin/bash", "-c", script]);

    /// <summary>GET / over bash's /dev/tcp, from the sandbox's host side (busybox's static wget crashes outside its rootfs here).</summary>
    public Task<ProcResult> HttpGet(string address, int port) =>
        Sh($"exec 3<>/dev/tcp/{address}/{port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 3 cat <&3");

    /// <summary>run -d ...; returns the full id.</summary>
    public async Task<string> RunDetached(params string[] args)
    {
        var r = await Cr(["run", "-d", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.OutLines.Last();
    }

    public async Task<JsonElement> Inspect(string id)
    {
        var r = await Cr("inspect", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    /// <summary>The container's addresses (inspect's network.addresses: NETWORK=IP/PREFIX), without the prefix.</summary>
    public async Task<List<string>> Addresses(string id) =>
        [.. (await Inspect(id)).GetProperty("network").GetProperty("addresses").EnumerateArray().Select(a => a.GetString()!.Split('=')[1].Split('/')[0])];

    /// <summary>What the plugins leave per container: veths, host-local leases, iptables rules naming it.</summary>
    public async Task<string> Leftovers(IEnumerable<string> addresses)
    {
        var found = new List<string>();
        var veths = (await Sh("ip -o link show type veth")).Stdout.Trim();
        if (veths.Length > 0) found.Add("veths: " + veths);
        var ipam = Path.Combine(StateRoot, ".networks", "ipam");
        if (Directory.Exists(ipam))
        {
            var leases = Directory.EnumerateFiles(ipam, "*", SearchOption.AllDirectories)
                .Where(p => !Path.GetFileName(p).StartsWith("last_reserved_ip", StringComparison.Ordinal) && Path.GetFileName(p) != "lock").ToList();
            if (leases.Count > 0) found.Add("leases: " + string.Join(", ", leases));
        }
        var rules = (await Sh("iptables-save")).Stdout.Split('\n');
        foreach (var a in addresses)
        {
            var naming = rules.Where(l => l.Contains(a + "/", StringComparison.Ordinal) || l.Contains(a + ":", StringComparison.Ordinal) || l.Contains(" " + a + " ", StringComparison.Ordinal)).ToList();
            if (naming.Count > 0) found.Add($"rules for {a}: " + string.Join(" | ", naming));
        }
        var dnat = rules.Where(l => l.StartsWith("-A CNI-DN-", StringComparison.Ordinal) || l.StartsWith(":CNI-DN-", StringComparison.Ordinal)).ToList();
        if (dnat.Count > 0) found.Add("portmap chains: " + string.Join(" | ", dnat));
        var attachments = Path.Combine(StateRoot, ".networks", "attachments");
        if (Directory.Exists(attachments) && Directory.EnumerateFiles(attachments, "*.json").Any())
            found.Add("cached attachments: " + string.Join(", ", Directory.EnumerateFiles(attachments)));
        return string.Join("\n", found);
    }

    /// <summary>Polls (the kernel removes a dead namespace's veth asynchronously).</summary>
    public async Task AssertNothingLeft(IEnumerable<string> addresses)
    {
        var list = addresses.ToList();
        var left = "";
        for (var i = 0; i < 50; i++)
        {
            left = await Leftovers(list);
            if (left.Length == 0) return;
            await Task.Delay(100);
        }
        Assert.Fail("left behind in the sandbox:\n" + left);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            var ids = (await Cr("ps", "-aq")).OutLines;
            if (ids.Length > 0) await Cr(["rm", "-f", .. ids]);
        }
        finally
        {
            await Proc.Run("ip", ["netns", "del", Name]);
            await Proc.Run("rm", ["-rf", "--one-file-system", StateRoot]);
        }
    }
}

[Collection(CrateRunCollection.Name)]
public sealed class NetworkTests(CrateRunFixture f)
{
    private const string Sleep = "sleep 300";

    [RootFact]
    public async Task Two_containers_on_a_user_network_ping_each_other_by_ip_and_by_name()
    {
        await using var s = await NetSandbox.Create(f);
        var create = await s.Cr("network", "create", "--subnet", "10.99.7.0/24", "appnet");
        Assert.True(create.ExitCode == 0, create.ToString());
        var a = await s.RunDetached("--name", "alpha", "--network", "appnet", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep);
        var b = await s.RunDetached("--name", "beta", "--network", "appnet", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep);
        var ipA = Assert.Single(await s.Addresses(a));
        var ipB = Assert.Single(await s.Addresses(b));
        Assert.StartsWith("10.99.7.", ipA);
        Assert.NotEqual(ipA, ipB);
        // from inside beta: alpha by address and by name (beta's /etc/hosts was updated when alpha... and alpha's when beta came)
        var byIp = await s.Cr("exec", b, "--", "ping", "-c", "1", "-W", "3", ipA);
        Assert.True(byIp.ExitCode == 0, byIp.ToString());
        var byName = await s.Cr("exec", b, "--", "ping", "-c", "1", "-W", "3", "alpha");
        Assert.True(byName.ExitCode == 0, byName.ToString());
        var back = await s.Cr("exec", a, "--", "ping", "-c", "1", "-W", "3", "beta");
        Assert.True(back.ExitCode == 0, back.ToString());
        Assert.Contains($"{ipB}\tbeta", (await s.Cr("exec", a, "--", "cat", "/etc/hosts")).Stdout);
        // the name goes when the container does
        var rm = await s.Cr("rm", "-f", b);
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.DoesNotContain("beta", (await s.Cr("exec", a, "--", "cat", "/etc/hosts")).Stdout);
        Assert.Contains("is in use", (await s.Cr("network", "rm", "appnet")).Stderr);
        Assert.Equal(0, (await s.Cr("rm", "-f", a)).ExitCode);
        await s.AssertNothingLeft([ipA, ipB]);
        var netRm = await s.Cr("network", "rm", "appnet");
        Assert.True(netRm.ExitCode == 0, netRm.ToString());
        Assert.DoesNotContain("appnet", (await s.Cr("network", "ls")).Stdout);
    }

    /// <summary>
    /// The CNI spec's execution protocol gives a plugin its configuration on stdin, its result on
    /// stdout, errors on stderr: nothing else of the runtime's. A plugin that outlives the call or
    /// a daemon it starts must not pin the monitor's pipes and sockets open. A wrapper named
    /// firewall, found first on CRATERUN_CNI_PATH, records the fds it was started with (ls's
    /// own /proc/self/fd directory is fd 3) and execs the real plugin.
    /// </summary>
    [RootFact]
    public async Task A_cni_plugin_is_started_with_only_stdin_stdout_and_stderr_open()
    {
        await using var s = await NetSandbox.Create(f);
        var probeDir = Directory.CreateTempSubdirectory("crnet-probe-").FullName;
        try
        {
            var real = new[] { "/usr/lib/cni", "/opt/cni/bin" }.First(d => File.Exists(Path.Combine(d, "firewall")));
            var probe = Path.Combine(probeDir, "firewall");
            File.WriteAllText(probe, $"#!/bin/sh\nls /proc/self/fd > {probeDir}/fds.$CNI_COMMAND\nexec {real}/firewall\n");
            File.SetUnixFileMode(probe, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var run = await s.CrWithPluginPath($"{probeDir}:{real}", "run", "--rm", "--rootfs", f.Rootfs, "--", "/bin/true");
            Assert.True(run.ExitCode == 0, run.ToString());
            foreach (var command in new[] { "ADD", "DEL" })
            {
                var fds = File.ReadAllLines(Path.Combine(probeDir, "fds." + command)).Select(int.Parse).Order().ToList();
                Assert.True(fds.SequenceEqual([0, 1, 2, 3]), $"{command}: the plugin had fds {string.Join(" ", fds)} open (3 is ls's own)");
            }
        }
        finally
        {
            Directory.Delete(probeDir, recursive: true);
        }
    }

    /// <summary>
    /// A plugin's environment: the CNI_* variables of its call (CNI spec, "Parameters"), a plain
    /// PATH for what it execs, and GOMAXPROCS=1 (the plugins are Go programs living a few ms: one
    /// processor each saves ~5 ms of CPU per container, bench/README.md); nothing of craterun's own
    /// environment. A wrapper named firewall, first on CRATERUN_CNI_PATH, records it.
    /// </summary>
    [RootFact]
    public async Task A_cni_plugin_gets_the_cni_variables_a_plain_path_and_one_go_processor_and_nothing_of_ours()
    {
        await using var s = await NetSandbox.Create(f);
        var probeDir = Directory.CreateTempSubdirectory("crnet-probe-").FullName;
        try
        {
            var real = new[] { "/usr/lib/cni", "/opt/cni/bin" }.First(d => File.Exists(Path.Combine(d, "firewall")));
            var probe = Path.Combine(probeDir, "firewall");
            File.WriteAllText(probe, $"#!/bin/sh\n/usr/bin/env -0 > {probeDir}/env.$CNI_COMMAND\nexec {real}/firewall\n");
            File.SetUnixFileMode(probe, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var run = await s.CrWithPluginPath($"{probeDir}:{real}", "run", "--rm", "--rootfs", f.Rootfs, "--", "/bin/true");
            Assert.True(run.ExitCode == 0, run.ToString());
            foreach (var command in new[] { "ADD", "DEL" })
            {
                var env = File.ReadAllText(Path.Combine(probeDir, "env." + command)).Split('\0', StringSplitOptions.RemoveEmptyEntries)
                    .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
                foreach (var shells in new[] { "PWD", "OLDPWD", "SHLVL", "_" }) env.Remove(shells); // the wrapper's sh sets these
                Assert.Equal(["CNI_COMMAND", "CNI_CONTAINERID", "CNI_IFNAME", "CNI_NETNS", "CNI_PATH", "GOMAXPROCS", "PATH"], env.Keys.Order(StringComparer.Ordinal));
                Assert.Equal(command, env["CNI_COMMAND"]);
                Assert.Equal("1", env["GOMAXPROCS"]);
                Assert.StartsWith(probeDir + ":", env["CNI_PATH"]);
            }
        }
        finally
        {
            Directory.Delete(probeDir, recursive: true);
        }
    }

    [RootFact]
    public async Task Published_tcp_port_reaches_httpd_in_the_container()
    {
        await using var s = await NetSandbox.Create(f);
        var web = await s.RunDetached("-p", "8080:80", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "mkdir -p /tmp/www && echo hello-from-httpd > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www");
        var ip = Assert.Single(await s.Addresses(web));
        var ports = (await s.Inspect(web)).GetProperty("network").GetProperty("ports").EnumerateArray().Select(p => p.GetProperty("hostPort").GetInt32()).ToList();
        Assert.Equal([8080], ports);
        Assert.Contains("0.0.0.0:8080->80/tcp", (await s.Cr("ps")).Stdout);
        var gateway = ip[..ip.LastIndexOf('.')] + ".1";
        string body = "";
        for (var i = 0; i < 50 && !body.Contains("hello-from-httpd"); i++)
        {
            body = (await s.HttpGet(gateway, 8080)).Stdout;
            if (!body.Contains("hello-from-httpd")) await Task.Delay(100);
        }
        Assert.Contains("hello-from-httpd", body);
        Assert.Contains("hello-from-httpd", (await s.HttpGet("127.0.0.1", 8080)).Stdout);
        // the same host port again: one line, 125, nothing made
        var before = Directory.EnumerateDirectories(s.StateRoot).Count();
        var taken = await s.Cr("run", "-d", "-p", "8080:81", "--rootfs", f.Rootfs, "--", "/bin/true");
        Assert.Equal(125, taken.ExitCode);
        Assert.Equal($"craterun: port 8080/tcp is already published by container {web[..12]}", Assert.Single(taken.ErrLines));
        Assert.Equal(before, Directory.EnumerateDirectories(s.StateRoot).Count());
        // a port a process of the (sandbox's) host holds
        using (var holder = Proc.Start(NetSandbox.InNetns, [s.Name, s.Busybox, "nc", "-l", "-p", "8282"]))
        {
            for (var i = 0; i < 50 && !(await s.Sh("grep -q ':2062 ' /proc/net/tcp")).ExitCode.Equals(0); i++) await Task.Delay(50);
            var busy = await s.Cr("run", "-d", "-p", "8282:80", "--rootfs", f.Rootfs, "--", "/bin/true");
            Assert.Equal(125, busy.ExitCode);
            Assert.Equal("craterun: port 8282/tcp is already in use on the host", Assert.Single(busy.ErrLines));
        }
        Assert.Equal(0, (await s.Cr("rm", "-f", web)).ExitCode);
        await s.AssertNothingLeft([ip]);
    }

    [RootFact]
    public async Task Publish_all_puts_the_images_exposed_port_on_free_ephemeral_host_ports_that_port_ps_and_inspect_show()
    {
        await using var s = await NetSandbox.Create(f);
        var dir = Directory.CreateTempSubdirectory("crnet-img-").FullName;
        try
        {
            // an image whose config exposes 80/tcp, as `docker import -c "EXPOSE 80"` (and a Dockerfile's EXPOSE) writes it, with busybox httpd
            var gz = Path.Combine(dir, "rootfs.tar.gz");
            Assert.Equal(0, (await Proc.Run("tar", ["-C", f.Rootfs, "-czf", gz, "."])).ExitCode);
            var imp = await s.Cr("import", "-c", "EXPOSE 80/tcp", "-c",
                "CMD [\"/bin/sh\", \"-c\", \"mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www\"]", gz, "test/web");
            Assert.True(imp.ExitCode == 0, imp.ToString());
            var config = JsonDocument.Parse((await s.Cr("image", "inspect", "test/web")).Stdout).RootElement[0].GetProperty("Config");
            Assert.Equal(["80/tcp"], config.GetProperty("ExposedPorts").EnumerateObject().Select(p => p.Name));

            // the sandbox's own ephemeral range (ip_local_port_range is per network namespace), its first port held by a listener
            Assert.Equal(0, (await s.Sh("echo '40000 40100' > /proc/sys/net/ipv4/ip_local_port_range")).ExitCode);
            using var holder = Proc.Start(NetSandbox.InNetns, [s.Name, s.Busybox, "nc", "-l", "-p", "40000"]);
            for (var i = 0; i < 50 && (await s.Sh("grep -q ':9C40 ' /proc/net/tcp")).ExitCode != 0; i++) await Task.Delay(50);

            // three at once: each gets its own port, the first free ones of the range
            var ids = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => s.RunDetached("-P", "test/web")));
            var hostPorts = new List<int>();
            foreach (var id in ids)
            {
                var line = Assert.Single((await s.Cr("port", id)).OutLines);
                Assert.Matches(@"^80/tcp -> 0\.0\.0\.0:\d+$", line);
                var port = int.Parse(line[(line.LastIndexOf(':') + 1)..]);
                hostPorts.Add(port);
                Assert.Equal([$"0.0.0.0:{port}"], (await s.Cr("port", id, "80")).OutLines);
                Assert.Equal([$"0.0.0.0:{port}"], (await s.Cr("port", id[..12], "80/tcp")).OutLines);
                Assert.Equal([port], (await s.Inspect(id)).GetProperty("network").GetProperty("ports").EnumerateArray().Select(p => p.GetProperty("hostPort").GetInt32()));
                Assert.Contains($"0.0.0.0:{port}->80/tcp", (await s.Cr("ps")).Stdout);
            }
            Assert.Equal([40001, 40002, 40003], hostPorts.Order());

            // each one answers on its port, from the sandbox's host side
            for (var k = 0; k < ids.Length; k++)
            {
                var gateway = (await s.Addresses(ids[k]))[0];
                gateway = gateway[..gateway.LastIndexOf('.')] + ".1";
                var body = "";
                for (var i = 0; i < 50 && !body.Contains(ids[k][..12]); i++)
                {
                    body = (await s.HttpGet(gateway, hostPorts[k])).Stdout;
                    if (!body.Contains(ids[k][..12])) await Task.Delay(100);
                }
                Assert.Contains(ids[k][..12], body);
            }

            // a port it does not publish: one line, 125
            var udp = await s.Cr("port", ids[0], "80/udp");
            Assert.Equal(125, udp.ExitCode);
            Assert.Equal($"craterun: no public port '80/udp' published for {ids[0]}", Assert.Single(udp.ErrLines));

            // -p CTR and IP::CTR take the next free ones too; -P with nothing exposed (a plain rootfs) publishes nothing
            var plain = await s.RunDetached("-P", "-p", "127.0.0.1::90/udp", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep);
            Assert.Equal(["90/udp -> 127.0.0.1:40000"], (await s.Cr("port", plain)).OutLines); // udp 40000 is free: the listener is tcp

            var addresses = new List<string>();
            foreach (var id in ids.Append(plain)) addresses.AddRange(await s.Addresses(id));
            var rm = await s.Cr(["rm", "-f", .. ids, plain]);
            Assert.True(rm.ExitCode == 0, rm.ToString());
            await s.AssertNothingLeft(addresses);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Busybox has no UDP server: a static one (gcc is a build prerequisite) that prints one datagram and answers it.</summary>
    private const string UdpServer = """
        #include <arpa/inet.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/socket.h>
        int main(void) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
            if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
            char buf[256]; struct sockaddr_in from; socklen_t len = sizeof from;
            ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
            if (n < 0) return 1;
            buf[n] = 0; printf("got %s\n", buf); fflush(stdout);
            sendto(s, "pong", 4, 0, (struct sockaddr *)&from, len);
            return 0;
        }
        """;

    [RootFact]
    public async Task Published_udp_port_reaches_the_container()
    {
        var dir = Directory.CreateTempSubdirectory("crnet-udp-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "udp.c"), UdpServer);
            var cc = await Proc.Run("gcc", ["-static", "-O1", "-o", Path.Combine(dir, "udp"), Path.Combine(dir, "udp.c")]);
            Assert.True(cc.ExitCode == 0, cc.ToString());
            await using var s = await NetSandbox.Create(f);
            var id = await s.RunDetached("-p", "5353:53/udp", "-v", dir + ":/udp:ro", "--rootfs", f.Rootfs, "--", "/udp/udp");
            var ip = Assert.Single(await s.Addresses(id));
            var gateway = ip[..ip.LastIndexOf('.')] + ".1";
            var logs = "";
            for (var i = 0; i < 30 && !logs.Contains("got udp-datagram"); i++)
            {
                await s.Sh($"echo udp-datagram > /dev/udp/{gateway}/5353");
                await Task.Delay(100);
                logs = (await s.Cr("logs", id)).Stdout;
            }
            Assert.Contains("got udp-datagram", logs);
            Assert.Equal(0, (await s.Cr("rm", "-f", id)).ExitCode);
            await s.AssertNothingLeft([ip]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [RootFact]
    public async Task Host_shares_the_sandbox_namespace_container_mode_shares_the_other_container_and_none_has_only_lo()
    {
        await using var s = await NetSandbox.Create(f);
        var sandboxNs = (await s.Sh("readlink /proc/self/ns/net")).Stdout.Trim();
        var host = await s.Cr("run", "--rm", "--network", "host", "--rootfs", f.Rootfs, "--", "readlink", "/proc/self/ns/net");
        Assert.True(host.ExitCode == 0, host.ToString());
        Assert.Equal(sandboxNs, host.Stdout.Trim());

        var first = await s.RunDetached("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep);
        var firstNs = (await s.Cr("exec", first, "--", "readlink", "/proc/self/ns/net")).Stdout.Trim();
        var joined = await s.Cr("run", "--rm", "--network", "container:" + first[..12], "--rootfs", f.Rootfs, "--", "/bin/sh", "-c",
            "readlink /proc/self/ns/net; grep -c eth0 /proc/net/dev");
        Assert.True(joined.ExitCode == 0, joined.ToString());
        Assert.Equal([firstNs, "1"], joined.OutLines);
        Assert.NotEqual(sandboxNs, firstNs);

        var none = await s.Cr("run", "--rm", "--network", "none", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1");
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.Equal(["lo"], none.OutLines);
        var ip = await s.Addresses(first);
        Assert.Equal(0, (await s.Cr("rm", "-f", first)).ExitCode);
        await s.AssertNothingLeft(ip);
    }

    [RootFact]
    public async Task Twenty_parallel_containers_get_distinct_reachable_addresses_and_rm_f_leaves_nothing()
    {
        await using var s = await NetSandbox.Create(f);
        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => s.RunDetached("--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep)));
        var addresses = new List<string>();
        foreach (var id in ids) addresses.Add(Assert.Single(await s.Addresses(id)));
        Assert.Equal(20, addresses.Distinct().Count());
        var unreachable = new List<string>();
        foreach (var a in addresses)
            if ((await s.Sh($"{s.Busybox} ping -c 1 -W 3 {a}")).ExitCode != 0) unreachable.Add(a);
        Assert.Empty(unreachable);
        var removals = await Task.WhenAll(ids.Select(id => s.Cr("rm", "-f", id)));
        Assert.All(removals, r => Assert.True(r.ExitCode == 0, r.ToString()));
        await s.AssertNothingLeft(addresses);
    }

    [RootFact]
    public async Task A_normal_exit_releases_the_network()
    {
        await using var s = await NetSandbox.Create(f);
        var r = await s.Cr("run", "-p", "9090:90", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", "cat /etc/hostname; grep -v '^#' /etc/resolv.conf | head -1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = (await s.Cr("ps", "-aq")).OutLines.Single();
        var ip = await s.Addresses(id);
        Assert.Single(ip);
        Assert.Equal(id[..12], r.OutLines[0]);
        await s.AssertNothingLeft(ip);
    }

    [RootFact]
    public async Task The_network_of_a_container_whose_monitor_was_SIGKILLed_is_released_by_the_next_command()
    {
        await using var s = await NetSandbox.Create(f);
        var id = await s.RunDetached("-p", "8181:80", "--rootfs", f.Rootfs, "--", "/bin/sh", "-c", Sleep);
        var info = await s.Inspect(id);
        var ip = await s.Addresses(id);
        var monitor = info.GetProperty("monitorPid").GetInt32();
        var pid = info.GetProperty("pid").GetInt32();
        await Proc.Run("kill", ["-9", monitor.ToString()]);
        await Proc.Run("kill", ["-9", pid.ToString()]);
        for (var i = 0; i < 50 && File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z"); i++) await Task.Delay(50);
        Assert.NotEqual("", await s.Leftovers(ip)); // nobody cleaned up yet
        var ps = await s.Cr("ps", "-a");
        Assert.True(ps.ExitCode == 0, ps.ToString());
        await s.AssertNothingLeft(ip);
    }

    [RootFact]
    public async Task Bad_network_input_is_one_line_exit_125_and_leaves_nothing()
    {
        await using var s = await NetSandbox.Create(f);
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--network", "nosuchnet"], "craterun: network nosuchnet not found (craterun network ls lists them)"),
            (["-p", "0:80"], "craterun: invalid -p '0:80': host port '0' is not a number from 1 to 65535; expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]"),
            (["-p", "8080:80/sctp"], "craterun: invalid -p '8080:80/sctp': protocol 'sctp' is not tcp or udp; expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]"),
            (["--network", "none", "-p", "8080:80"], "craterun: -p needs a bridge network or slirp4netns: --network none publishes nothing"),
            (["--network", "container:nosuch"], "craterun: no such container: nosuch"),
        })
        {
            var r = await s.Cr(["run", .. args, "--rootfs", f.Rootfs, "--", "/bin/true"]);
            Assert.Equal(125, r.ExitCode);
            Assert.Equal(expected, Assert.Single(r.ErrLines, l => !l.StartsWith("See ", StringComparison.Ordinal)));
        }
        Assert.DoesNotContain(Directory.EnumerateDirectories(s.StateRoot), d => !Path.GetFileName(d).StartsWith('.'));
        await s.AssertNothingLeft([]);
        Assert.Contains("already exists", (await s.Cr("network", "create", "bridge")).Stderr);
        Assert.Equal(125, (await s.Cr("network", "create", "--subnet", "10.211.3.0/24", "clash")).ExitCode);
    }
}
