using System.CommandLine;
using CrateRun.Core;
using CrateRun.Core.Images;
using CrateRun.Linux.Images;

namespace CrateRun.Cli;

/// <summary>pull, login, logout; and the pull that `run --pull` does.</summary>
public static class PullCommands
{
    /// <summary>Docker's client config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.</summary>
    public static string DockerConfigPath =>
        Path.Combine(Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker"), "config.json");

    private static string? ReadDockerConfig()
    {
        try { return File.ReadAllText(DockerConfigPath); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    public static RegistryOptions Options(bool insecure, string? certDir) => new()
    {
        Insecure = insecure,
        CertDirs = certDir is null ? new RegistryOptions().CertDirs : [certDir],
        Credentials = registry => DockerConfigAuths.Find(ReadDockerConfig(), registry, DockerConfigPath),
    };

    public static Command Pull()
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress; print only the image's name" };
        var platform = new Option<string?>("--platform") { Description = "os/arch[/variant] to pull from a multi-platform image (default linux/amd64)" };
        var insecure = new Option<bool>("--insecure") { Description = "Allow this registry over plain HTTP or with an unverified certificate" };
        var certDir = new Option<string?>("--cert-dir") { Description = "Directory of HOST:PORT/*.crt CA certificates (default /etc/craterun/certs.d, /etc/containers/certs.d, /etc/docker/certs.d)" };
        var image = new Argument<string>("image") { Description = "NAME[:TAG|@DIGEST]" };
        var cmd = new Command("pull", "Download an image from a registry") { quiet, platform, insecure, certDir, image };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var result = PullImage(DockerCli.Engine(p).Store.Root, p.GetValue(image)!, PlatformSpec.Parse(p.GetValue(platform)),
                Options(p.GetValue(insecure), p.GetValue(certDir)), p.GetValue(quiet) ? null : Console.Out);
            Console.WriteLine(result.Reference);
            return 0;
        }));
        return cmd;
    }

    /// <summary>Pulls, writing Docker-like progress to <paramref name="output"/> (null: silent).</summary>
    public static PulledImage PullImage(string stateRoot, string text, PlatformSpec platform, RegistryOptions options, TextWriter? output)
    {
        var reference = ImageReference.Parse(text);
        var display = output is null ? null : new PullProgress(output, interactive: ReferenceEquals(output, Console.Out) ? !Console.IsOutputRedirected : !Console.IsErrorRedirected);
        output?.WriteLine($"{reference.Tag ?? reference.Digest}: Pulling from {reference.FamiliarName}");
        PulledImage result;
        try
        {
            result = new ImagePuller(new ImageService(stateRoot).Store, options, display is null ? null : display.Report).Pull(text, platform);
        }
        finally
        {
            display?.Finish();
        }
        output?.WriteLine($"Digest: {result.ManifestDigest}");
        output?.WriteLine(result.Downloaded
            ? $"Status: Downloaded newer image for {ImageReference.ParseNormalized(result.Reference).FamiliarString}"
            : $"Status: Image is up to date for {ImageReference.ParseNormalized(result.Reference).FamiliarString}");
        return result;
    }

    public static Command Login()
    {
        var username = new Option<string?>("--username", "-u") { Description = "User name" };
        var password = new Option<string?>("--password", "-p") { Description = "Password (visible to other users in ps: prefer --password-stdin)" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input" };
        var insecure = new Option<bool>("--insecure") { Description = "Allow this registry over plain HTTP or with an unverified certificate" };
        var certDir = new Option<string?>("--cert-dir") { Description = "Directory of HOST:PORT/*.crt CA certificates" };
        var registry = new Argument<string?>("registry") { Arity = ArgumentArity.ZeroOrOne, Description = "HOST[:PORT] (default docker.io)" };
        var cmd = new Command("login", "Log in to a registry (credentials go to ~/.docker/config.json)") { username, password, passwordStdin, insecure, certDir, registry };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var host = RegistryHost(p.GetValue(registry));
            var user = p.GetValue(username);
            var secret = p.GetValue(password);
            if (p.GetValue(passwordStdin))
            {
                if (secret is not null) throw new UsageException("--password and --password-stdin are exclusive");
                if (user is null) throw new UsageException("--password-stdin needs --username");
                secret = Console.In.ReadToEnd().TrimEnd('\n', '\r');
            }
            if (user is null)
            {
                if (Console.IsInputRedirected) throw new UsageException("login needs --username (and --password-stdin) when stdin is not a terminal");
                Console.Write("Username: ");
                user = Console.ReadLine() ?? "";
            }
            if (secret is null)
            {
                if (Console.IsInputRedirected) throw new UsageException("login needs --password-stdin when stdin is not a terminal");
                Console.Write("Password: ");
                secret = ReadHidden();
            }
            if (user.Length == 0 || secret.Length == 0) throw new UsageException("login: user name and password must not be empty");
            var credentials = new RegistryCredentials(user, secret);
            var options = Options(p.GetValue(insecure), p.GetValue(certDir));
            using (var client = new RegistryClient(host, new RegistryOptions { Insecure = options.Insecure, CertDirs = options.CertDirs, Credentials = _ => credentials }))
            {
                try { client.CheckLoginAsync(CancellationToken.None).GetAwaiter().GetResult(); }
                catch (HttpRequestException e) { throw new CrateRunException($"login {host}: {RegistryClient.Describe(e)}"); }
            }
            var text = DockerConfigAuths.With(ReadDockerConfig(), host, credentials, DockerConfigPath, out _);
            WriteConfig(text);
            Console.WriteLine("Login Succeeded");
            return 0;
        }));
        return cmd;
    }

    public static Command Logout()
    {
        var registry = new Argument<string?>("registry") { Arity = ArgumentArity.ZeroOrOne, Description = "HOST[:PORT] (default docker.io)" };
        var cmd = new Command("logout", "Remove a registry's credentials from ~/.docker/config.json") { registry };
        cmd.SetAction(p => Program.Guard(() =>
        {
            var host = RegistryHost(p.GetValue(registry));
            var text = DockerConfigAuths.With(ReadDockerConfig(), host, null, DockerConfigPath, out var changed);
            if (!changed)
            {
                Console.WriteLine($"Not logged in to {host}");
                return 0;
            }
            WriteConfig(text);
            Console.WriteLine($"Removing login credentials for {host}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>A registry as login takes it: host[:port], or a URL (https://host/v1/), or nothing for Docker Hub.</summary>
    private static string RegistryHost(string? text)
    {
        if (string.IsNullOrEmpty(text)) return ImageReference.DefaultDomain;
        var t = text;
        if (t.StartsWith("https://", StringComparison.Ordinal)) t = t[8..];
        else if (t.StartsWith("http://", StringComparison.Ordinal)) t = t[7..];
        t = t.TrimEnd('/');
        if (t.IndexOf('/') is var slash and >= 0) t = t[..slash];
        if (t is "index.docker.io" or "registry-1.docker.io") t = ImageReference.DefaultDomain;
        if (t.Length == 0 || t.Any(char.IsWhiteSpace)) throw new UsageException($"invalid registry '{text}'");
        return t;
    }

    /// <summary>Writes config.json as docker does: 0600, atomically (temp + rename), its directory made 0700.</summary>
    private static void WriteConfig(string text)
    {
        var path = DockerConfigPath;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, text + "\n");
        File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(tmp, path, overwrite: true);
    }

    private static string ReadHidden()
    {
        var sb = new System.Text.StringBuilder();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) break;
            if (k.Key == ConsoleKey.Backspace) { if (sb.Length > 0) sb.Length--; continue; }
            sb.Append(k.KeyChar);
        }
        Console.WriteLine();
        return sb.ToString();
    }
}

/// <summary>
/// Pull progress. On a terminal: one line per layer, redrawn in place (bytes, total, rate) at most
/// 10 times a second. Otherwise: one line per layer when it is done (or found already stored).
/// </summary>
public sealed class PullProgress(TextWriter output, bool interactive)
{
    private readonly object _gate = new();
    private readonly List<string> _order = [];
    private readonly Dictionary<string, LayerProgress> _layers = [];
    private int _drawnLines;
    private long _lastDraw;

    public void Report(LayerProgress p)
    {
        lock (_gate)
        {
            if (!_layers.ContainsKey(p.Digest)) _order.Add(p.Digest);
            var previous = _layers.GetValueOrDefault(p.Digest);
            _layers[p.Digest] = p;
            if (!interactive)
            {
                if (p.State != previous?.State && p.State is LayerState.Done or LayerState.Exists) output.WriteLine(Line(p));
                return;
            }
            var now = Environment.TickCount64;
            if (p.State == LayerState.Downloading && now - _lastDraw < 100) return;
            _lastDraw = now;
            Draw();
        }
    }

    public void Finish()
    {
        lock (_gate)
        {
            if (interactive) Draw();
            output.Flush();
        }
    }

    private void Draw()
    {
        var sb = new System.Text.StringBuilder();
        if (_drawnLines > 0) sb.Append($"\x1b[{_drawnLines}A");
        foreach (var d in _order) sb.Append("\r\x1b[2K").Append(Line(_layers[d])).Append('\n');
        _drawnLines = _order.Count;
        output.Write(sb.ToString());
        output.Flush();
    }

    private static string Line(LayerProgress p) => p.State switch
    {
        LayerState.Waiting => $"{p.Digest}: Waiting",
        LayerState.Exists => $"{p.Digest}: Already exists",
        LayerState.Downloading => $"{p.Digest}: Downloading {HumanUnits.Size(p.Bytes)}/{HumanUnits.Size(p.Total)} {Rate(p)}",
        _ => $"{p.Digest}: Pull complete {HumanUnits.Size(p.Total)} in {p.Elapsed.TotalSeconds:0.0}s {Rate(p)}",
    };

    private static string Rate(LayerProgress p) =>
        p.Elapsed.TotalSeconds > 0.05 ? HumanUnits.Size((long)(p.Bytes / p.Elapsed.TotalSeconds)) + "/s" : "";
}
