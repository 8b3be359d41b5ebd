using System.CommandLine;
using System.Globalization;
using CrateRun.Core;
using CrateRun.Core.State;
using CrateRun.Linux.Engine;
using CrateRun.Linux.Process;

namespace CrateRun.Cli;

/// <summary>pause, unpause, rename, top: Docker's commands of the same names, decided by the engine.</summary>
public static class ContainerCommands
{
    public static Command Pause()
    {
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("pause", "Pause all processes within one or more containers (freezes their cgroup)") { ids };
        cmd.SetAction(p => EachNamed(p, ids, (engine, id) => engine.Pause(id)));
        return cmd;
    }

    public static Command Unpause()
    {
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("unpause", "Unpause all processes within one or more containers") { ids };
        cmd.SetAction(p => EachNamed(p, ids, (engine, id) => engine.Resume(id)));
        return cmd;
    }

    public static Command Rename()
    {
        var old = new Argument<string>("container");
        var name = new Argument<string>("new-name");
        var cmd = new Command("rename", "Rename a container") { old, name };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = DockerCli.Engine(p);
            engine.Rename(engine.Store.Resolve(p.GetValue(old)!), p.GetValue(name)!);
            return 0;
        }));
        return cmd;
    }

    public static Command Top()
    {
        var id = new Argument<string>("container");
        var cmd = new Command("top", "Display the running processes of a container (UID PID PPID C STIME TTY TIME CMD, as ps -ef)") { id };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = DockerCli.Engine(p);
            var cid = engine.Store.Resolve(p.GetValue(id)!);
            var now = DateTime.UtcNow;
            var rows = engine.RunningCgroup(cid).Pids().Order().Select(pid => ProcessTable.Read(pid, now)).OfType<ProcessRow>();
            Console.Write(Table.Format(["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                rows.Select(r => new[]
                {
                    ProcessTable.UserName(r.Uid), Num(r.Pid), Num(r.PpId), Num(r.CpuPercent),
                    StartText(r.Started, now), TtyText(r.TtyNr), CpuTimeText(r.CpuTime), r.Command,
                })));
            return 0;
        }));
        return cmd;
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>ps's STIME: the time of day within the last 24 hours, else month and day ("Nov29"), else the year.</summary>
    private static string StartText(DateTime startedUtc, DateTime nowUtc)
    {
        var local = startedUtc.ToLocalTime();
        if (nowUtc - startedUtc < TimeSpan.FromHours(24)) return local.ToString("HH:mm", CultureInfo.InvariantCulture);
        if (nowUtc - startedUtc < TimeSpan.FromDays(365)) return local.ToString("MMMdd", CultureInfo.InvariantCulture);
        return local.ToString("yyyy", CultureInfo.InvariantCulture);
    }

    /// <summary>ps's TTY: the controlling terminal from tty_nr (major 136-143 are pts, 4 the consoles), '?' for none.</summary>
    private static string TtyText(int ttyNr)
    {
        if (ttyNr == 0) return "?";
        var major = (ttyNr >> 8) & 0xfff;
        var minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
        return major switch
        {
            >= 136 and <= 143 => "pts/" + Num(((major - 136) * 256) + minor),
            4 when minor < 64 => "tty" + Num(minor),
            _ => "?",
        };
    }

    /// <summary>ps's TIME: cumulative CPU time as [DD-]HH:MM:SS.</summary>
    private static string CpuTimeText(TimeSpan t) =>
        (t.Days > 0 ? Num(t.Days) + "-" : "") + $"{t.Hours:00}:{t.Minutes:00}:{t.Seconds:00}";

    /// <summary>Runs one action per named container; each failure is one line, the last failure's code is returned.</summary>
    private static int EachNamed(ParseResult p, Argument<string[]> ids, Action<ContainerEngine, string> action)
    {
        var engine = DockerCli.Engine(p);
        var rc = 0;
        foreach (var x in p.GetValue(ids)!)
        {
            var one = Program.Guard(() =>
            {
                var id = engine.Store.Resolve(x);
                try
                {
                    action(engine, id);
                }
                catch (CrateRunException e) when (e is not NoSuchContainerException)
                {
                    // the engine's refusal ("container not running") with the container it is about
                    throw new CrateRunException($"container {x}: {e.Message}", e.ExitCode, e);
                }
                Console.WriteLine(x); // Docker echoes each container it paused or unpaused
                return 0;
            });
            if (one != 0) rc = one;
        }
        return rc;
    }
}

/// <summary>version and info: what this craterun is and what it finds on this host, in the layout of Docker's.</summary>
public static class SystemCommands
{
    private static string Arch => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>The commit the binary was built from, when the build stamped it ("1.0.0+SHA").</summary>
    private static string Commit =>
        typeof(SystemCommands).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion is { } v && v.IndexOf('+') is var plus and > 0
            ? v[(plus + 1)..] : "unknown";

    public static Command Version()
    {
        var cmd = new Command("version", "Show the CrateRun version information");
        cmd.SetAction(_ =>
        {
            Console.Write($"""
                Client:
                 Version:           {OciCli.Version}
                 OCI spec:          {Core.Config.SpecBuilder.OciVersion}
                 .NET version:      {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription} (NativeAOT)
                 Git commit:        {Commit}
                 OS/Arch:           linux/{Arch}

                """);
            return 0;
        });
        return cmd;
    }

    public static Command Info()
    {
        var cmd = new Command("info", "Display system-wide information");
        cmd.SetAction(p => Program.Guard(() =>
        {
            var engine = DockerCli.Engine(p);
            var statuses = engine.Store.List().Select(engine.StatusOf).ToList();
            var images = Directory.Exists(Path.Combine(engine.Store.Root, Linux.Images.ImageStore.DirName))
                ? new Linux.Images.ImageService(engine.Store.Root).List().Select(i => i.Id).Distinct().Count() : 0;
            var layout = engine.Layout;
            var cgroups = layout.IsV2 ? "2" : HostFacts.Cgroup2Mounted ? "1 (hybrid: a cgroup2 tree is mounted too)" : "1";
            var security = new List<string>();
            if (HostFacts.Seccomp) security.Add("seccomp");
            if (HostFacts.NoNewPrivileges) security.Add("no-new-privileges");
            if (HostFacts.UserNamespaces) security.Add("userns");
            Console.Write($"""
                Server:
                 Containers: {statuses.Count}
                  Running: {statuses.Count(s => s == ContainerStatus.Running)}
                  Paused: {statuses.Count(s => s == ContainerStatus.Paused)}
                  Stopped: {statuses.Count(s => s is not (ContainerStatus.Running or ContainerStatus.Paused))}
                 Images: {images}
                 Cgroup Version: {cgroups}
                 Kernel Version: {HostFacts.KernelVersion}
                 Operating System: {HostFacts.OperatingSystem}
                 OSType: linux
                 Architecture: {Arch}
                 CrateRun Root Dir: {engine.Store.Root}
                 Security Options:

                """);
            foreach (var s in security) Console.WriteLine("  " + s);
            return 0;
        }));
        return cmd;
    }
}
