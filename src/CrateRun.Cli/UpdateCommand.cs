using System.CommandLine;
using CrateRun.Core;

namespace CrateRun.Cli;

/// <summary>craterun update: Docker's update of memory, CPU and pids limits (the engine applies and keeps them).</summary>
public static class UpdateCommand
{
    public static Command Create()
    {
        var memory = new Option<string?>("--memory", "-m") { Description = "Memory limit: bytes, or 64m, 1g" };
        var cpus = new Option<string?>("--cpus") { Description = "Number of CPUs, e.g. 0.5" };
        var pids = new Option<string?>("--pids-limit") { Description = "Maximum number of processes" };
        var ids = new Argument<string[]>("container") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("update", "Update the resource limits of one or more containers (applied now if running, kept for the next start)") { memory, cpus, pids, ids };
        cmd.SetAction(p =>
        {
            var rc = Program.Guard(() =>
            {
                if (p.GetValue(memory) is null && p.GetValue(cpus) is null && p.GetValue(pids) is null)
                    throw new UsageException("you must provide one or more flags when using this command (--memory, --cpus, --pids-limit)");
                return 0;
            });
            if (rc != 0) return rc;
            long? mem = null, pl = null;
            (long, ulong)? cpu = null;
            rc = Program.Guard(() =>
            {
                mem = p.GetValue(memory) is { } m ? Quantities.ParseMemory(m) : null;
                pl = p.GetValue(pids) is { } x ? Quantities.ParsePids(x) : null;
                cpu = p.GetValue(cpus) is { } c ? Quantities.ParseCpus(c, Environment.ProcessorCount) : null;
                return 0;
            });
            if (rc != 0) return rc;
            var engine = DockerCli.Engine(p);
            foreach (var x in p.GetValue(ids)!)
            {
                var one = Program.Guard(() =>
                {
                    engine.UpdateLimits(engine.Store.Resolve(x), mem, cpu, pl);
                    Console.WriteLine(x);
                    return 0;
                });
                if (one != 0) rc = one;
            }
            return rc;
        });
        return cmd;
    }
}
