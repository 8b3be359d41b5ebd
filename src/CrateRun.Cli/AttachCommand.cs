using System.CommandLine;
using CrateRun.Core.Docker;
using CrateRun.Linux.Engine;

namespace CrateRun.Cli;

/// <summary>craterun attach: Docker's, through the container's monitor (Linux/Engine/AttachClient.cs).</summary>
public static class AttachCommand
{
    public static Command Create()
    {
        var noStdin = new Option<bool>("--no-stdin") { Description = "Do not attach STDIN" };
        var detachKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (default \"ctrl-p,ctrl-q\")" };
        var sigProxy = new Option<bool>("--sig-proxy") { Description = "Proxy all received signals to the process (non-TTY mode only)", DefaultValueFactory = _ => true };
        var id = new Argument<string>("container");
        var cmd = new Command("attach", "Attach local standard input, output, and error streams to a running container") { noStdin, detachKeys, sigProxy, id };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var keys = DetachKeys.Parse(p.GetValue(detachKeys) ?? DetachKeys.Default);
            var engine = DockerCli.Engine(p);
            var cid = engine.Store.Resolve(p.GetValue(id)!);
            using var session = AttachClient.Connect(engine, cid);
            using var forward = p.GetValue(sigProxy) && !session.Tty ? SignalForwarding.To(session.Pid) : null;
            return AttachClient.Run(engine, session, withStdin: !p.GetValue(noStdin), keys);
        }));
        return cmd;
    }
}
