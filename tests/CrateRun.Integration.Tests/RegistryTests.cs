using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrateRun.Integration.Tests.Infrastructure;

namespace CrateRun.Integration.Tests;

/// <summary>
/// Pulling from a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1: plain
/// HTTP, HTTPS with a CA made here, htpasswd basic auth, token auth with a token service in the
/// test. Images are built offline as OCI layouts (busybox layer by GNU tar, crafted layers with a
/// whiteout and hard links, a two-platform index) and pushed with skopeo. Faults: a corrupted blob,
/// the registry stopped mid-pull, connections cut mid-body, two pulls at once.
/// Only 127.0.0.1 is contacted.
/// </summary>
[Collection(CrateRunCollection.Name)]
public sealed class RegistryTests(CrateRunFixture f)
{
    private string Work(string name) => Directory.CreateDirectory(Path.Combine(f.TempBase, "registry-" + name + "-" + Guid.NewGuid().ToString("N")[..6])).FullName;

    private static string NewRoot(string dir)
    {
        var root = Path.Combine(dir, "state");
        Directory.CreateDirectory(root);
        SuiteState.StateRoots.Add(root);
        return root;
    }

    /// <summary>The busybox rootfs as one tar (GNU tar, not our code).</summary>
    private async Task<byte[]> BusyboxTar(string dir)
    {
        var tar = Path.Combine(dir, "busybox.tar");
        var r = await Proc.Run("tar", ["--numeric-owner", "-C", f.Rootfs, "-cf", tar, "."]);
        Assert.True(r.ExitCode == 0, r.ToString());
        return await File.ReadAllBytesAsync(tar);
    }

    /// <summary>
    /// Three layers: busybox; /data with a, gone; a whiteout of /data/gone with c and its hard link c2.
    /// Cmd cat /data/a, Env FOO=bar, WorkingDir /data. Returns the layout (tag "app") and the layers.
    /// </summary>
    private async Task<(OciLayoutBuilder Layout, List<(OciLayoutBuilder.Blob Layer, string DiffId)> Layers, OciLayoutBuilder.Blob Manifest)> AppImage(string dir, string compressionOfLast = "gzip")
    {
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var layers = new List<(OciLayoutBuilder.Blob, string)>
        {
            await layout.AddLayer(await BusyboxTar(dir)),
            await layout.AddLayer(OciLayoutBuilder.Tar(
                (TarEntryType.Directory, "data/", null),
                (TarEntryType.RegularFile, "data/a", "one\n"),
                (TarEntryType.RegularFile, "data/gone", "soon deleted\n"))),
            await layout.AddLayer(OciLayoutBuilder.Tar(
                (TarEntryType.RegularFile, "data/.wh.gone", ""),
                (TarEntryType.RegularFile, "data/c", "three\n"),
                (TarEntryType.HardLink, "data/c2", "data/c")), compressionOfLast),
        };
        var manifest = layout.AddImage(layers, new JsonObject
        {
            ["Cmd"] = new JsonArray("cat", "/data/a"),
            ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"),
            ["WorkingDir"] = "/data",
        });
        layout.Tag(manifest, "app");
        return (layout, layers, manifest);
    }

    /// <summary>busybox plus a layer of incompressible bytes (for faults in the middle of a body).</summary>
    private async Task<(OciLayoutBuilder Layout, OciLayoutBuilder.Blob BigLayer)> BigImage(string dir, int megabytes)
    {
        var layout = new OciLayoutBuilder(Path.Combine(dir, "big"));
        var random = new byte[megabytes << 20];
        new Random(42).NextBytes(random);
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "random.bin") { DataStream = new MemoryStream(random), Mode = (UnixFileMode)0b110_100_100 });
        var busybox = await layout.AddLayer(await BusyboxTar(dir));
        var big = await layout.AddLayer(ms.ToArray());
        layout.Tag(layout.AddImage([busybox, big], new JsonObject { ["Cmd"] = new JsonArray("true") }), "big");
        return (layout, big.Layer);
    }

    private static void AssertNoLeftovers(string root, string digest)
    {
        var images = Path.Combine(root, "images");
        Assert.False(File.Exists(Path.Combine(images, "blobs", "sha256", digest[7..])), $"blob {digest} was stored");
        var tmp = Path.Combine(images, "tmp");
        Assert.True(!Directory.Exists(tmp) || !Directory.EnumerateFileSystemEntries(tmp).Any(),
            "tmp/ holds: " + (Directory.Exists(tmp) ? string.Join(", ", Directory.EnumerateFileSystemEntries(tmp)) : ""));
        var index = Path.Combine(images, "index.json");
        Assert.True(!File.Exists(index) || !File.ReadAllText(index).Contains("\"refs\": {\n    \""), File.Exists(index) ? File.ReadAllText(index) : "");
    }

    [RootFact]
    public async Task Pull_PlainHttp_ThreeLayers_WhiteoutAndHardLink_RunsWithTheImageConfig()
    {
        var dir = Work("plain");
        var (layout, layers, _) = await AppImage(dir);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "app:1");
        var image = $"{registry.Host}/app:1";

        var pull = await f.Cr("pull", image);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal($"1: Pulling from {registry.Host}/app", pull.OutLines[0]);
        Assert.Equal(3, pull.OutLines.Count(l => l.Contains(": Pull complete", StringComparison.Ordinal)));
        foreach (var (layer, _) in layers) Assert.Contains(pull.OutLines, l => l.StartsWith(layer.Digest[7..19] + ": Pull complete", StringComparison.Ordinal));
        Assert.Equal(image, pull.OutLines[^1]);

        var images = await f.Cr("images", $"{registry.Host}/app");
        Assert.Contains(images.OutLines, l => l.StartsWith($"{registry.Host}/app", StringComparison.Ordinal) && l.Contains(" 1 ", StringComparison.Ordinal));

        var run = await f.Run("--rm", image);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("one\n", run.Stdout);

        // the whiteout hid /data/gone; c2 is the same inode as c; Env and WorkingDir came from the config
        var look = await f.Run("--rm", image, "sh", "-c", "test ! -e /data/gone && echo gone; [ $(stat -c %i /data/c) = $(stat -c %i /data/c2) ] && echo linked; cat c2; echo $FOO; pwd");
        Assert.True(look.ExitCode == 0, look.ToString());
        Assert.Equal("gone\nlinked\nthree\nbar\n/data\n", look.Stdout);

        // a second pull downloads nothing
        var again = await f.Cr("pull", image);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(3, again.OutLines.Count(l => l.EndsWith(": Already exists", StringComparison.Ordinal)));
        Assert.Contains($"Status: Image is up to date for {image}", again.OutLines);
        foreach (var (layer, _) in layers) Assert.Equal(1, registry.BlobGets(layer.Digest));

        var quiet = await f.Cr("pull", "-q", image);
        Assert.Equal(image + "\n", quiet.Stdout);
    }

    [RootFact]
    public async Task Run_PullMissing_PullsFirst_AndPullNever_FailsWithOneLine()
    {
        var dir = Work("runpull");
        var (layout, _, _) = await AppImage(dir);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "runpull:latest");
        var root = NewRoot(dir);
        var image = $"{registry.Host}/runpull";

        var never = await f.CrAt(root, null, "run", "--rm", "--pull", "never", image);
        Assert.NotEqual(0, never.ExitCode);
        Assert.Single(never.ErrLines);
        Assert.Contains("no such image", never.Stderr);

        var run = await f.CrAt(root, null, "run", "--rm", image);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("one\n", run.Stdout); // the pull's progress went to stderr
        Assert.Contains($"Unable to find image '{image}:latest' locally", run.Stderr);

        var always = await f.CrAt(root, null, "run", "--rm", "--pull", "always", image);
        Assert.True(always.ExitCode == 0, always.ToString());
        Assert.Contains("Status: Image is up to date", always.Stderr);

        var bad = await f.CrAt(root, null, "run", "--rm", "--pull", "sometimes", image);
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid --pull 'sometimes'", bad.Stderr);
    }

    [RootFact]
    public async Task Pull_MultiPlatformIndex_PicksThePlatform()
    {
        var dir = Work("multi");
        var (layout, layers, amd64) = await AppImage(dir);
        var arm64 = layout.AddImage(layers, new JsonObject { ["Cmd"] = new JsonArray("echo", "arm") }, architecture: "arm64");
        var index = layout.AddIndex((amd64, "linux", "amd64"), (arm64, "linux", "arm64"));
        var source = layout.Tag(index, "multi");
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push(source, "multi:1", all: true);
        var root = NewRoot(dir);
        var image = $"{registry.Host}/multi:1";

        var arm = await f.CrAt(root, null, "pull", "-q", "--platform", "linux/arm64", image);
        Assert.True(arm.ExitCode == 0, arm.ToString());
        var inspect = await f.CrAt(root, null, "image", "inspect", image);
        Assert.Equal("arm64", JsonDocument.Parse(inspect.Stdout).RootElement[0].GetProperty("Architecture").GetString());
        Assert.Equal(arm64.Digest, JsonDocument.Parse(inspect.Stdout).RootElement[0].GetProperty("ManifestDigest").GetString());

        var amd = await f.CrAt(root, null, "pull", "-q", image);
        Assert.True(amd.ExitCode == 0, amd.ToString());
        inspect = await f.CrAt(root, null, "image", "inspect", image);
        Assert.Equal("amd64", JsonDocument.Parse(inspect.Stdout).RootElement[0].GetProperty("Architecture").GetString());

        var none = await f.CrAt(root, null, "pull", "--platform", "linux/s390x", image);
        Assert.NotEqual(0, none.ExitCode);
        Assert.Single(none.ErrLines);
        Assert.Contains("no image for linux/s390x (it has: linux/amd64, linux/arm64)", none.Stderr);
    }

    [RootFact]
    public async Task Pull_Https_WithTheRegistryCaInCertDir_AndRefusedWithout()
    {
        var dir = Work("tls");
        var (layout, layers, _) = await AppImage(dir);
        var pki = Directory.CreateDirectory(Path.Combine(dir, "pki")).FullName;
        string P(string n) => Path.Combine(pki, n);
        foreach (var args in new[]
        {
            new[] { "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", P("ca.key"), "-out", P("ca.crt"), "-days", "2", "-subj", "/CN=craterun test CA" },
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", P("server.key"), "-out", P("server.csr"), "-subj", "/CN=127.0.0.1"],
        })
        {
            var r = await Proc.Run("openssl", args);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        await File.WriteAllTextAsync(P("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
        var sign = await Proc.Run("openssl", ["x509", "-req", "-in", P("server.csr"), "-CA", P("ca.crt"), "-CAkey", P("ca.key"), "-CAcreateserial",
            "-out", P("server.crt"), "-days", "2", "-extfile", P("ext.cnf")]);
        Assert.True(sign.ExitCode == 0, sign.ToString());

        using var registry = new LocalRegistry(Path.Combine(dir, "registry"), tlsYaml: $"  tls:\n    certificate: {P("server.crt")}\n    key: {P("server.key")}");
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "tls:1");
        var root = NewRoot(dir);
        var image = $"{registry.Host}/tls:1";

        var refused = await f.CrAt(root, null, "pull", image);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Single(refused.ErrLines);
        Assert.Contains("TLS", refused.Stderr);
        AssertNoLeftovers(root, layers[0].Layer.Digest);

        var certs = Path.Combine(dir, "certs.d");
        Directory.CreateDirectory(Path.Combine(certs, registry.Host));
        File.Copy(P("ca.crt"), Path.Combine(certs, registry.Host, "ca.crt"));
        var pulled = await f.CrAt(root, null, "pull", "--cert-dir", certs, image);
        Assert.True(pulled.ExitCode == 0, pulled.ToString());
        Assert.Equal(image, pulled.OutLines[^1]);
    }

    [RootFact]
    public async Task Login_BasicAuth_Htpasswd_StoresDockerConfigAuths_AndLogoutRemovesThem()
    {
        var dir = Work("basic");
        var (layout, _, _) = await AppImage(dir);
        var htpasswd = Path.Combine(dir, "htpasswd");
        var h = await Proc.Run("htpasswd", ["-Bbc", htpasswd, "tester", "s3cret pass"]);
        Assert.True(h.ExitCode == 0, h.ToString());
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"), authYaml: $"auth:\n  htpasswd:\n    realm: craterun-test\n    path: {htpasswd}");
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "private:1", extra: ["--dest-creds", "tester:s3cret pass"]);
        var root = NewRoot(dir);
        var image = $"{registry.Host}/private:1";
        var dockerConfig = Directory.CreateDirectory(Path.Combine(dir, "docker")).FullName;
        var configPath = Path.Combine(dockerConfig, "config.json");
        // what docker already wrote there stays
        await File.WriteAllTextAsync(configPath, "{\"auths\":{\"other.example:5000\":{\"auth\":\"dXNlcjpwdw==\"}},\"psFormat\":\"table {{.ID}}\"}");
        var env = new Dictionary<string, string> { ["DOCKER_CONFIG"] = dockerConfig };

        var anonymous = await f.CrAt(root, env, "pull", image);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Single(anonymous.ErrLines);
        Assert.Contains("access denied (401)", anonymous.Stderr);

        var wrong = await Proc.Run(f.Binary, ["--root", root, "login", "-u", "tester", "--password-stdin", registry.Host], stdin: "wrong\n", env: f.EnvWith(env));
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("login refused", wrong.Stderr);
        Assert.DoesNotContain(registry.Host, await File.ReadAllTextAsync(configPath));

        var login = await Proc.Run(f.Binary, ["--root", root, "login", "-u", "tester", "--password-stdin", registry.Host], stdin: "s3cret pass\n", env: f.EnvWith(env));
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Equal("Login Succeeded\n", login.Stdout);
        var config = JsonNode.Parse(await File.ReadAllTextAsync(configPath))!;
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("tester:s3cret pass")), config["auths"]![registry.Host]!["auth"]!.GetValue<string>());
        Assert.Equal("dXNlcjpwdw==", config["auths"]!["other.example:5000"]!["auth"]!.GetValue<string>());
        Assert.Equal("table {{.ID}}", config["psFormat"]!.GetValue<string>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configPath));

        var pull = await f.CrAt(root, env, "pull", image);
        Assert.True(pull.ExitCode == 0, pull.ToString());

        var logout = await f.CrAt(root, env, "logout", registry.Host);
        Assert.True(logout.ExitCode == 0, logout.ToString());
        Assert.Null(JsonNode.Parse(await File.ReadAllTextAsync(configPath))!["auths"]![registry.Host]);
        var after = await f.CrAt(root, env, "pull", $"{registry.Host}/private:2");
        Assert.Contains("access denied", after.Stderr);
    }

    [RootFact]
    public async Task Pull_TokenAuth_AnonymousTokenFromTheRealm_OneTokenPerScope()
    {
        var dir = Work("token");
        var (layout, _, _) = await AppImage(dir);
        var cert = Path.Combine(dir, "token.crt");
        using var tokens = new TokenServer(cert, "pusher", "pushpw");
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"), authYaml: tokens.AuthYaml(cert));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "tok/app:1", extra: ["--dest-creds", "pusher:pushpw"]);
        var root = NewRoot(dir);
        var before = tokens.Requests.Count;

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/tok/app:1");
        Assert.True(pull.ExitCode == 0, pull.ToString() + "\nregistry:\n" + registry.Log);
        // manifest, config and three layers with one token for the scope (cached), asked anonymously
        Assert.Equal(["anonymous repository:tok/app:pull"], tokens.Requests.Skip(before).ToArray());

        var run = await f.CrAt(root, null, "run", "--rm", $"{registry.Host}/tok/app:1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("one\n", run.Stdout);

        // a refused login is one line
        var dockerConfig = Directory.CreateDirectory(Path.Combine(dir, "docker")).FullName;
        var wrong = await Proc.Run(f.Binary, ["--root", root, "login", "-u", "pusher", "--password-stdin", registry.Host], stdin: "nope\n",
            env: f.EnvWith(new Dictionary<string, string> { ["DOCKER_CONFIG"] = dockerConfig }));
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Single(wrong.ErrLines);
        Assert.Contains("refused", wrong.Stderr);
    }

    [RootFact]
    public async Task Pull_CorruptedBlob_DigestError_NothingStored()
    {
        var dir = Work("corrupt");
        var (layout, layers, _) = await AppImage(dir);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "corrupt:1");
        var victim = layers[1].Layer.Digest;
        var data = registry.BlobData(victim);
        var bytes = await File.ReadAllBytesAsync(data);
        for (var i = bytes.Length / 3; i < bytes.Length * 2 / 3; i++) bytes[i] ^= 0x5a;
        await File.WriteAllBytesAsync(data, bytes);
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/corrupt:1");
        Assert.NotEqual(0, pull.ExitCode);
        Assert.Single(pull.ErrLines);
        Assert.Contains($"layer {victim}: content has digest", pull.Stderr);
        AssertNoLeftovers(root, victim);
        var images = await f.CrAt(root, null, "images", "-q");
        Assert.Equal("", images.Stdout);
    }

    [RootFact]
    public async Task Pull_ConnectionsCutMidBody_ResumesWithRange()
    {
        var dir = Work("cut");
        var (layout, big) = await BigImage(dir, 6);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:big", "cut:1");
        using var proxy = new FaultProxy(registry.Port, cuts: 2) { CutAfter = 1 << 20 };
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{proxy.Host}/cut:1");
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal(2, proxy.Cuts);
        Assert.Contains("Range: bytes=", proxy.Requests);
        Assert.True(File.Exists(Path.Combine(root, "images", "blobs", "sha256", big.Digest[7..])));
    }

    [RootFact]
    public async Task Pull_RegistryStoppedMidPull_OneClearError_ThenARetrySucceeds()
    {
        var dir = Work("stop");
        var (layout, big) = await BigImage(dir, 8);
        var registryDir = Path.Combine(dir, "registry");
        using var registry = new LocalRegistry(registryDir);
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:big", "stop:1");
        using var proxy = new FaultProxy(registry.Port) { BytesPerSecond = 4 << 20 };
        var root = NewRoot(dir);
        var image = $"{proxy.Host}/stop:1";

        using (var pull = f.StartAt(root, "pull", image))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (proxy.Relayed < (2 << 20) && clock.Elapsed < TimeSpan.FromSeconds(30) && !pull.HasExited) await Task.Delay(20);
            Assert.False(pull.HasExited, "the pull ended before the registry was stopped:\n" + pull.Stdout + pull.Stderr);
            registry.Stop();
            var result = await pull.Wait(TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, result.ExitCode);
            Assert.Single(result.ErrLines);
            Assert.Matches("connection refused|cut at", result.Stderr);
        }
        AssertNoLeftovers(root, big.Digest);

        using var again = new LocalRegistry(registryDir, port: registry.Port);
        await again.Start();
        proxy.BytesPerSecond = 0;
        var retry = await f.CrAt(root, null, "pull", image);
        Assert.True(retry.ExitCode == 0, retry.ToString());
        Assert.True(File.Exists(Path.Combine(root, "images", "blobs", "sha256", big.Digest[7..])));
    }

    [RootFact]
    public async Task Pull_TwoAtOnce_EachLayerDownloadedOnce()
    {
        var dir = Work("twice");
        var (layout, big) = await BigImage(dir, 4);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:big", "twice:1");
        using var proxy = new FaultProxy(registry.Port) { BytesPerSecond = 8 << 20 };
        var root = NewRoot(dir);
        var image = $"{proxy.Host}/twice:1";

        using var first = f.StartAt(root, "pull", image);
        using var second = f.StartAt(root, "pull", image);
        var a = await first.Wait(TimeSpan.FromSeconds(60));
        var b = await second.Wait(TimeSpan.FromSeconds(60));
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        Assert.Equal(1, registry.BlobGets(big.Digest));
        // the pull that waited for the other's lock found the layer stored
        var shortDigest = big.Digest[7..19];
        Assert.Equal(1, a.OutLines.Concat(b.OutLines).Count(l => l == shortDigest + ": Already exists"));
    }

    [RootFact]
    public async Task Pull_ZstdLayer_IsDecompressedAsItStreams()
    {
        var dir = Work("zstd");
        var (layout, layers, _) = await AppImage(dir, compressionOfLast: "zstd");
        Assert.Equal("application/vnd.oci.image.layer.v1.tar+zstd", layers[2].Layer.MediaType);
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "zstd:1");
        var root = NewRoot(dir);
        var image = $"{registry.Host}/zstd:1";

        var pull = await f.CrAt(root, null, "pull", image);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        var look = await f.CrAt(root, null, "run", "--rm", image, "sh", "-c", "test ! -e /data/gone && [ $(stat -c %i /data/c) = $(stat -c %i /data/c2) ] && cat /data/c2");
        Assert.True(look.ExitCode == 0, look.ToString());
        Assert.Equal("three\n", look.Stdout);
    }

    [RootFact]
    public async Task Pull_BinaryCapabilityXattr_KeepsItsBytes()
    {
        var dir = Work("caps");
        var tree = Directory.CreateDirectory(Path.Combine(dir, "tree")).FullName;
        File.Copy(Path.Combine(f.Rootfs, "bin", "busybox"), Path.Combine(tree, "pinger"));
        // cap_setuid is bit 7: the permitted mask's first byte is 0x80, not valid UTF-8 on its own
        var setcap = await Proc.Run("setcap", ["cap_setuid,cap_net_raw+ep", Path.Combine(tree, "pinger")]);
        Assert.True(setcap.ExitCode == 0, setcap.ToString());
        var tar = Path.Combine(dir, "caps.tar");
        var r = await Proc.Run("tar", ["--numeric-owner", "--xattrs", "--xattrs-include=security.capability", "--format=pax", "-C", tree, "-cf", tar, "pinger"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var layout = new OciLayoutBuilder(Path.Combine(dir, "layout"));
        var layer = await layout.AddLayer(await File.ReadAllBytesAsync(tar));
        layout.Tag(layout.AddImage([layer], new JsonObject { ["Cmd"] = new JsonArray("/pinger") }), "caps");
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:caps", "caps:1");
        var root = NewRoot(dir);

        var pull = await f.CrAt(root, null, "pull", $"{registry.Host}/caps:1");
        Assert.True(pull.ExitCode == 0, pull.ToString());
        var unpacked = Path.Combine(root, "images", "snapshots", layer.DiffId[7..], "pinger");
        var expected = await Proc.Run("getcap", [Path.Combine(tree, "pinger")]);
        var got = await Proc.Run("getcap", [unpacked]);
        Assert.Equal(expected.Stdout.Replace(Path.Combine(tree, "pinger"), "X"), got.Stdout.Replace(unpacked, "X"));
        Assert.Contains("cap_setuid", got.Stdout);
    }

    [RootFact]
    public async Task Save_DockerAndOciArchives_LoadInPodmanSkopeoAndCraterun()
    {
        var dir = Work("save");
        var (layout, _, _) = await AppImage(dir, compressionOfLast: "zstd");
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        await registry.Push($"oci:{layout.Dir}:app", "save:1");
        var root = NewRoot(dir);
        var image = $"{registry.Host}/save:1";
        var pull = await f.CrAt(root, null, "pull", "-q", image);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        var inspect = JsonDocument.Parse((await f.CrAt(root, null, "image", "inspect", image)).Stdout).RootElement[0];
        var id = inspect.GetProperty("Id").GetString()!;
        var manifestDigest = inspect.GetProperty("ManifestDigest").GetString()!;

        var docker = Path.Combine(dir, "docker.tar");
        var save = await f.CrAt(root, null, "save", "-o", docker, image);
        Assert.True(save.ExitCode == 0, save.ToString());
        var oci = Path.Combine(dir, "oci.tar");
        save = await f.CrAt(root, null, "save", "--format", "oci-archive", "-o", oci, image);
        Assert.True(save.ExitCode == 0, save.ToString());

        // podman refuses a runroot longer than 50 characters: a short one, removed at the end
        var podmanDir = Directory.CreateTempSubdirectory("crp-").FullName;
        try
        {
            await SaveChecks(dir, podmanDir, image, id, manifestDigest, docker, oci);
        }
        finally
        {
            Directory.Delete(podmanDir, recursive: true);
        }
    }

    private async Task SaveChecks(string dir, string podmanDir, string image, string id, string manifestDigest, string docker, string oci)
    {
        string[] podman = ["--root", Path.Combine(dir, "podman-root"), "--runroot", Path.Combine(podmanDir, "run"), "--storage-driver", "vfs"];
        var load = await Proc.Run("podman", [.. podman, "load", "-i", docker], timeout: TimeSpan.FromSeconds(120));
        Assert.True(load.ExitCode == 0, load.ToString());
        var podmanId = await Proc.Run("podman", [.. podman, "image", "inspect", "--format", "{{.Id}}", image]);
        Assert.True(podmanId.ExitCode == 0, podmanId.ToString());
        Assert.Equal(id[7..], podmanId.Stdout.Trim()); // the same config: the same image id
        var loadOci = await Proc.Run("podman", [.. podman, "load", "-i", oci], timeout: TimeSpan.FromSeconds(120));
        Assert.True(loadOci.ExitCode == 0, loadOci.ToString());

        var skopeo = await Proc.Run("skopeo", ["inspect", "--raw", $"oci-archive:{oci}"]);
        Assert.True(skopeo.ExitCode == 0, skopeo.ToString());
        Assert.Equal(manifestDigest, "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(skopeo.Stdout))));
        var skopeoDocker = await Proc.Run("skopeo", ["inspect", $"docker-archive:{docker}"]);
        Assert.True(skopeoDocker.ExitCode == 0, skopeoDocker.ToString());

        // and back into craterun, in another store
        var other = NewRoot(Directory.CreateDirectory(Path.Combine(dir, "other")).FullName);
        var back = await f.CrAt(other, null, "load", "-i", docker);
        Assert.True(back.ExitCode == 0, back.ToString());
        var run = await f.CrAt(other, null, "run", "--rm", image, "cat", "/data/c2");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("three\n", run.Stdout);
    }

    [RootFact]
    public async Task ImagePrune_RemovesTheImageATagMovedAway_ThenAllWithDashA()
    {
        var dir = Work("prune");
        var (layout, layers, _) = await AppImage(dir);
        var second = layout.AddImage(layers, new JsonObject { ["Cmd"] = new JsonArray("echo", "second") });
        layout.Tag(second, "second");
        using var registry = new LocalRegistry(Path.Combine(dir, "registry"));
        await registry.Start();
        var root = NewRoot(dir);
        var image = $"{registry.Host}/prune:1";
        await registry.Push($"oci:{layout.Dir}:app", "prune:1");
        Assert.Equal(0, (await f.CrAt(root, null, "pull", "-q", image)).ExitCode);
        var firstId = JsonDocument.Parse((await f.CrAt(root, null, "image", "inspect", image)).Stdout).RootElement[0].GetProperty("Id").GetString()!;
        await registry.Push($"oci:{layout.Dir}:second", "prune:1"); // the tag moves
        Assert.Equal(0, (await f.CrAt(root, null, "pull", "-q", image)).ExitCode);
        Assert.Equal(2, (await f.CrAt(root, null, "images", "-q")).OutLines.Length);

        var prune = await f.CrAt(root, null, "image", "prune");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Equal($"Deleted: {firstId}\n", prune.Stdout);
        Assert.False(File.Exists(Path.Combine(root, "images", "blobs", "sha256", firstId[7..])));
        Assert.Single((await f.CrAt(root, null, "images", "-q")).OutLines);
        Assert.True(Directory.Exists(Path.Combine(root, "images", "snapshots", layers[0].DiffId[7..])), "a layer the remaining image uses went");

        prune = await f.CrAt(root, null, "image", "prune", "-a");
        Assert.True(prune.ExitCode == 0, prune.ToString());
        Assert.Empty((await f.CrAt(root, null, "images", "-q")).OutLines);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(root, "images", "snapshots")));
    }
}
