using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// config-linux.md, namespaces: a type left out of linux.namespaces is inherited from the
/// runtime; a namespace given by path is joined. Seen from inside the container.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class OciNamespacesTests(CrateRunFixture f)
{
    [RootTheory]
    [InlineData("network", "net")]
    [InlineData("pid", "pid")]
    [InlineData("ipc", "ipc")]
    [InlineData("uts", "uts")]
    public async Task A_namespace_type_left_out_is_the_runtimes_own(string type, string file)
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/readlink", $"/proc/self/ns/{file}");
        OciBundles.RemoveNamespace(config, type);
        if (type == "uts") config.Remove("hostname"); // a hostname needs a UTS namespace (runc refuses it too)
        var id = OciBundles.NewId("nsout");
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 0, r.ToString());
        // the runtime is our child and shares our namespaces
        Assert.Equal(OciBundles.Ns("self", file), r.Stdout.Trim());
        Assert.False(oci.StateLeft(id));
    }

    [RootFact]
    public async Task Left_out_network_namespace_is_the_hosts_network()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/cat", "/proc/net/dev");
        OciBundles.RemoveNamespace(config, "network");
        var r = await oci.RunBundle(config, OciBundles.NewId("hostnet"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var ours = File.ReadAllLines("/proc/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order();
        Assert.Equal(ours, r.OutLines.Skip(2).Select(l => l.Split(':')[0].Trim()).Order());
    }

    [RootFact]
    public async Task No_mount_namespace_is_refused_with_one_line_and_nothing_left()
    {
        // runc 1.1 refuses this config too (maskedPaths need a private mount namespace); without
        // them it mounts root.path and the config's mounts in the host's namespace
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        OciBundles.RemoveNamespace(config, "mount");
        var id = OciBundles.NewId("nomnt");
        var before = Snapshot.Take(f);
        var mountsBefore = HostState.MountInfo().Length;
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains("mount namespace", line);
        Assert.False(oci.StateLeft(id));
        before.AssertNothingLeft(f, r);
        Assert.DoesNotContain(HostState.MountInfo(), l => l.Contains(f.Rootfs, StringComparison.Ordinal));
        Assert.Equal(mountsBefore, HostState.MountInfo().Length);
    }

    [RootFact]
    public async Task A_mount_namespace_joined_by_path_still_shows_root_path()
    {
        var oci = new OciBundles(f);
        // a mount namespace of our own making, held by a sleeping process; it ends with it
        var holder = Proc.Start("unshare", ["-m", "--propagation", "private", "sleep", "60"]);
        try
        {
            var pid = await NamespaceHolderPid(holder, "mnt");
            var config = await oci.RuncSpec("/bin/sh", "-c", "readlink /proc/self/ns/mnt; ls /not-executable /data/hello.txt");
            OciBundles.SetNamespacePath(config, "mount", $"/proc/{pid}/ns/mnt");
            var id = OciBundles.NewId("joinmnt");
            var r = await oci.RunBundle(config, id);
            Assert.True(r.ExitCode == 0, r.ToString());
            // in the joined namespace, and its "/" is root.path (files only the test rootfs has)
            Assert.Equal(OciBundles.Ns(pid.ToString(), "mnt"), r.OutLines[0]);
            Assert.Equal(["/data/hello.txt", "/not-executable"], r.OutLines.Skip(1).Order());
        }
        finally
        {
            holder.Dispose();
        }
    }

    [RootFact]
    public async Task Joining_the_runtimes_own_mount_namespace_is_refused_and_changes_nothing()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        // the runtime's own: setting up root.path there would mount over the host's view
        OciBundles.SetNamespacePath(config, "mount", "/proc/self/ns/mnt");
        var id = OciBundles.NewId("ownmnt");
        var before = Snapshot.Take(f);
        var mountsBefore = HostState.MountInfo().Length;
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("runtime's own", Assert.Single(r.ErrLines));
        before.AssertNothingLeft(f, r);
        Assert.Equal(mountsBefore, HostState.MountInfo().Length);
    }

    [RootFact]
    public async Task Hostname_is_set_in_a_UTS_namespace_joined_by_path()
    {
        var oci = new OciBundles(f);
        var holder = Proc.Start("unshare", ["-u", "sleep", "60"]);
        try
        {
            var pid = await NamespaceHolderPid(holder, "uts");
            var config = await oci.RuncSpec("/bin/hostname");
            OciBundles.SetNamespacePath(config, "uts", $"/proc/{pid}/ns/uts");
            config["hostname"] = "joined-uts-name";
            var r = await oci.RunBundle(config, OciBundles.NewId("joinuts"));
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("joined-uts-name", r.Stdout.Trim());
            // set in the joined namespace itself (runc does the same), not in a copy
            var seen = await Proc.Run("nsenter", ["-t", pid.ToString(), "-u", "hostname"]);
            Assert.Equal("joined-uts-name", seen.Stdout.Trim());
            Assert.NotEqual("joined-uts-name", System.Net.Dns.GetHostName());
        }
        finally
        {
            holder.Dispose();
        }
    }

    [RootFact]
    public async Task A_hostname_for_the_runtimes_own_UTS_namespace_is_refused_and_the_host_keeps_its_name()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        OciBundles.SetNamespacePath(config, "uts", "/proc/self/ns/uts");
        config["hostname"] = "not-the-hosts-name";
        var hostname = File.ReadAllText("/proc/sys/kernel/hostname");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, OciBundles.NewId("ownuts"));
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("runtime's own", Assert.Single(r.ErrLines));
        Assert.Equal(hostname, File.ReadAllText("/proc/sys/kernel/hostname"));
        before.AssertNothingLeft(f, r);
    }

    [RootFact]
    public async Task A_hostname_longer_than_the_kernel_allows_is_refused_with_one_line()
    {
        var oci = new OciBundles(f);
        var config = await oci.RuncSpec("/bin/true");
        config["hostname"] = new string('h', 65);
        var id = OciBundles.NewId("longhost");
        var before = Snapshot.Take(f);
        var r = await oci.RunBundle(config, id);
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.ErrLines);
        Assert.Contains("hostname", line);
        Assert.Contains("64", line);
        before.AssertNothingLeft(f, r);
    }

    /// <summary>The pid of the process that `unshare` became (it execs its command), once its namespace differs from ours.</summary>
    private static async Task<int> NamespaceHolderPid(RunningProc holder, string file)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                if (OciBundles.Ns(holder.Pid.ToString(), file) != OciBundles.Ns("self", file)) return holder.Pid;
            }
            catch (IOException)
            {
            }
            await Task.Delay(20);
        }
        throw new InvalidOperationException($"unshare never made its {file} namespace");
    }
}
