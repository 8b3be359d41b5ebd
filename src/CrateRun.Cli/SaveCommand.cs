using System.CommandLine;
using CrateRun.Core;
using CrateRun.Linux.Images;

namespace CrateRun.Cli;

/// <summary>`save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`.</summary>
public static class SaveCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of standard output" };
        var format = new Option<string?>("--format") { Description = "docker-archive (default, as docker save writes) or oci-archive" };
        var images = new Argument<string[]>("image") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("save", "Write images to a tar archive that docker, podman and skopeo load") { output, format, images };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var saver = new ImageSaver(new ImageService(DockerCli.Engine(p).Store.Root).Store);
            var fmt = p.GetValue(format) ?? ImageSaver.DockerArchive;
            if (p.GetValue(output) is not { } file)
            {
                if (!Console.IsOutputRedirected) throw new UsageException("save: refusing to write a tar to a terminal; use -o FILE or redirect");
                using var stdout = Console.OpenStandardOutput();
                saver.Save(p.GetValue(images)!, fmt, stdout);
                return 0;
            }
            var tmp = file + ".tmp-" + Environment.ProcessId;
            try
            {
                using (var s = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                    saver.Save(p.GetValue(images)!, fmt, s);
                File.Move(tmp, file, overwrite: true);
            }
            finally
            {
                File.Delete(tmp);
            }
            return 0;
        }));
        return cmd;
    }
}
