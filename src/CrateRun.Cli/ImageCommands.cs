using System.CommandLine;
using System.Text.Json;
using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Core.State;
using CrateRun.Linux.Images;

namespace CrateRun.Cli;

/// <summary>The image commands (load, import, images, rmi, tag, image inspect) and what `run IMAGE` needs from the store.</summary>
public static class ImageCommands
{
    private static ImageService Service(ParseResult p) => new(DockerCli.Engine(p).Store.Root);

    public static Command Load()
    {
        var input = new Option<string?>("--input", "-i") { Description = "The archive: docker-archive (docker save) or OCI layout, tar, tar.gz or directory" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print less" };
        var cmd = new Command("load", "Load images from an archive (docker save's format or an OCI layout)") { input, quiet };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var file = p.GetValue(input) ?? throw new UsageException("load needs an archive: craterun load -i FILE");
            foreach (var image in new ArchiveLoader(Service(p).Store).Load(file))
            {
                if (image.References.Count == 0) Console.WriteLine($"Loaded image ID: {image.Id}");
                foreach (var r in image.References) Console.WriteLine($"Loaded image: {ImageReference.ParseNormalized(r).FamiliarString}");
            }
            return 0;
        }));
        return cmd;
    }

    public static Command Import()
    {
        var change = new Option<string[]>("--change", "-c") { Description = "Dockerfile instruction for the image: CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, USER, LABEL, STOPSIGNAL" };
        var file = new Argument<string>("file") { Description = "A root filesystem tarball (plain or gzip), or - for stdin" };
        var reference = new Argument<string?>("reference") { Arity = ArgumentArity.ZeroOrOne, Description = "REPOSITORY[:TAG] to give the image" };
        var cmd = new Command("import", "Make a one-layer image from a root filesystem tarball") { change, file, reference };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var config = new ContainerConfig { Env = [Core.Config.SpecBuilder.DefaultPath] };
            foreach (var c in p.GetValue(change) ?? []) ImportChanges.Apply(config, c);
            var image = new ArchiveLoader(Service(p).Store).Import(p.GetValue(file)!, p.GetValue(reference), config);
            Console.WriteLine(image.Id);
            return 0;
        }));
        return cmd;
    }

    public static Command Images() => ListCommand("images");

    private static Command ListCommand(string name)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only print image ids" };
        var filter = new Argument<string?>("repository") { Arity = ArgumentArity.ZeroOrOne, Description = "Only this REPOSITORY[:TAG]" };
        var cmd = new Command(name, "List images") { quiet, filter };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var rows = Service(p).List();
            if (p.GetValue(filter) is { } f)
            {
                var wanted = ImageReference.ParseNormalized(f);
                rows = [.. rows.Where(r => r.Repository != "<none>" && ImageReference.ParseNormalized(r.Repository).Name == wanted.Name && (wanted.Tag is null || r.Tag == wanted.Tag))];
            }
            if (p.GetValue(quiet))
            {
                foreach (var id in rows.Select(r => r.Id[7..19]).Distinct()) Console.WriteLine(id);
                return 0;
            }
            var now = DateTimeOffset.UtcNow;
            Console.Write(Table.Format(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows.Select(r => new[]
            {
                r.Repository, r.Tag, r.Id[7..19],
                r.Created is { } c ? Core.Docker.HumanDuration.Of(now - c) + " ago" : "N/A",
                HumanUnits.Size(r.Size),
            })));
            return 0;
        }));
        return cmd;
    }

    public static Command Rmi() => RemoveCommand("rmi");

    private static Command RemoveCommand(string name)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Remove an image with several names, or one a container uses (its layers stay until the container goes)" };
        var images = new Argument<string[]>("image") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command(name, "Remove images") { force, images };
        cmd.SetAction(p =>
        {
            var service = Service(p);
            var rc = 0;
            foreach (var image in p.GetValue(images)!)
            {
                var one = Program.Guard(() =>
                {
                    foreach (var line in service.Remove(image, p.GetValue(force))) Console.WriteLine(line);
                    return 0;
                });
                if (one != 0) rc = one;
            }
            return rc;
        });
        return cmd;
    }

    public static Command Tag()
    {
        var source = new Argument<string>("source") { Description = "An image: reference or id" };
        var target = new Argument<string>("target") { Description = "The new REPOSITORY[:TAG]" };
        var cmd = new Command("tag", "Give an image another name") { source, target };
        cmd.SetAction(p => Program.Guard(() =>
        {
            Service(p).Tag(p.GetValue(source)!, p.GetValue(target)!);
            return 0;
        }));
        return cmd;
    }

    /// <summary>`image inspect|ls|rm`.</summary>
    public static Command Image()
    {
        var images = new Argument<string[]>("image") { Arity = ArgumentArity.OneOrMore };
        var inspect = new Command("inspect", "Show images' configuration as JSON") { images };
        inspect.SetAction(p => Program.Guard(() =>
        {
            Console.WriteLine(JsonSerializer.Serialize(Service(p).Inspect(p.GetValue(images)!), ImageInspectJsonContext.Default.ListImageInspect));
            return 0;
        }));
        var all = new Option<bool>("--all", "-a") { Description = "Remove every image no container uses, not only the unnamed ones" };
        var prune = new Command("prune", "Remove unnamed images (with -a: all unused ones) and the layers nothing needs") { all };
        prune.SetAction(p => Program.Guard(() =>
        {
            foreach (var id in Service(p).Prune(p.GetValue(all))) Console.WriteLine($"Deleted: {id}");
            return 0;
        }));
        return new Command("image", "Manage images") { inspect, ListCommand("ls"), RemoveCommand("rm"), prune };
    }

    private static PlatformSpec? PlatformOf(ImageConfig config) =>
        config.Os.Length == 0 ? null : new PlatformSpec(config.Os, config.Architecture, config.Variant);

    /// <summary>Whether an image's platform is the one asked for (a variant only counts when both name one).</summary>
    private static bool Matches(PlatformSpec image, PlatformSpec wanted) =>
        image.Os == wanted.Os && image.Architecture == wanted.Architecture
        && (wanted.Variant is null || image.Variant is null || image.Variant == wanted.Variant);

    /// <summary>What `run IMAGE` takes from the image.</summary>
    public sealed record RunImage(ImageRunSettings Settings, IReadOnlyDictionary<string, string> Annotations, Func<string, string?> ReadFile)
    {
        /// <summary>The config's ExposedPorts keys ("80/tcp"), what -P publishes.</summary>
        public IReadOnlyCollection<string> ExposedPorts { get; init; } = [];
        /// <summary>The config's HEALTHCHECK (null: none), merged with the --health-* flags.</summary>
        public ImageHealthcheck? Healthcheck { get; init; }
        /// <summary>The image as the user named it, for messages.</summary>
        public string Name { get; init; } = "";
    }

    /// <summary>
    /// Resolves `run [--pull missing|always|never] [--platform OS/ARCH] IMAGE [CMD...]`: the image in the
    /// local store (pulled first when missing, or always), and its config merged with the flags. With
    /// --platform, a stored image of another platform counts as missing (as docker run).
    /// </summary>
    public static RunImage ResolveForRun(string stateRoot, IReadOnlyList<string> positionals, string? entrypoint, string? pull,
        IReadOnlyList<string> env, string? workdir, string? user, string? platformText = null, bool autoRemove = false)
    {
        if (pull is not (null or "missing" or "never" or "always"))
            throw new UsageException($"invalid --pull '{pull}': missing, always or never");
        var platform = PlatformSpec.Parse(platformText);
        var name = positionals[0];
        if (!ImageReference.TryParse(name, out _) && !name.StartsWith("sha256:", StringComparison.Ordinal))
            throw new UsageException($"'{name}' is not an image reference; to run a command in a directory: craterun run --rootfs DIR -- CMD");
        var service = new ImageService(stateRoot);
        var index = service.Store.LoadIndex();
        var found = pull == "always" ? null : ImageStore.Find(index, name);
        var stored = found is null || platformText is null ? null : PlatformOf(service.Store.ReadConfig(found.Value.Image));
        if (platformText is not null && stored is not null && !Matches(stored, platform)) found = null;
        if (found is null && pull != "never" && ImageReference.TryParse(name, out _))
        {
            // as docker run: the pull's progress goes to stderr, the container's output stays alone on stdout
            if (pull != "always") Console.Error.WriteLine($"Unable to find image '{ImageReference.Parse(name).FamiliarString}' locally{(stored is null ? "" : $" for {platform}")}");
            PullCommands.PullImage(stateRoot, name, platform, PullCommands.Options(insecure: false, certDir: null), Console.Error);
            index = service.Store.LoadIndex();
            found = ImageStore.Find(index, name);
        }
        if (found is null && stored is not null)
            throw new CrateRunException($"no such image: {name} for {platform} (the stored one is for {stored}; --pull never)");
        if (found is null)
            throw new CrateRunException($"no such image: {name} (--pull never; craterun pull or load it; or run a directory: --rootfs DIR)");
        var image = found.Value.Image;
        var config = service.Store.ReadConfig(image);
        var settings = ImageRunConfig.Merge(config.Config, [.. positionals.Skip(1)], entrypoint, env, workdir, user, name);
        var annotations = new Dictionary<string, string>();
        // OCI image-spec conversion.md: Labels and StopSignal become annotations of the runtime config
        foreach (var (k, v) in config.Config?.Labels ?? []) annotations[k] = v;
        if (settings.StopSignal is { } signal) annotations["org.opencontainers.image.stopSignal"] = signal;
        annotations[ImageRootfs.ImageAnnotation] = ImageReference.TryParse(name, out var r) && index.Refs.ContainsKey(r!.ToString()) ? r.ToString() : image.Config;
        annotations[ImageRootfs.SnapshotsAnnotation] = string.Join(',', image.ChainIds.Select(ImageDocuments.Sha256Hex));
        if (autoRemove) annotations[ImageRootfs.VolatileAnnotation] = "true"; // removed on exit: nothing to keep across a crash
        return new RunImage(settings, annotations, path => service.ReadFile(image, path))
        {
            ExposedPorts = config.Config?.ExposedPorts?.Keys.ToList() ?? [],
            Healthcheck = config.Config?.Healthcheck,
            Name = name,
        };
    }
}
