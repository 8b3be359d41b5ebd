using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>
/// The hand-written readers of the store's index.json and of image configs against System.Text.Json's
/// generated reader (<see cref="ImageJsonContext"/>, which reads them everywhere else): the same
/// documents from the same bytes, with every member set, and as Docker writes a config.
/// </summary>
public sealed class ImageDocumentReaderTests
{
    private const string Diff1 = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";
    private const string Diff2 = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

    private static ImageConfig FullConfig() => new()
    {
        Created = new DateTimeOffset(2026, 11, 30, 1, 2, 3, 456, TimeSpan.Zero), Author = "alice \u00e9", Architecture = "amd64", Os = "linux", Variant = "v3",
        Config = new ContainerConfig
        {
            User = "33:33", ExposedPorts = new() { ["80/tcp"] = new(), ["53/udp"] = new() }, Env = ["PATH=/usr/bin", "Q=\"quoted\""],
            Entrypoint = ["/bin/sh", "-c"], Cmd = ["echo hi"], Volumes = new() { ["/data"] = new() }, WorkingDir = "/srv",
            Labels = new() { ["org.opencontainers.image.title"] = "t", ["a"] = "" }, StopSignal = "SIGQUIT",
            Healthcheck = new ImageHealthcheck { Test = ["CMD-SHELL", "true"], Interval = 30_000_000_000, Timeout = 1_000_000_000, StartPeriod = 5, StartInterval = 6, Retries = 3 },
        },
        RootFs = new RootFs { Type = "layers", DiffIds = [Diff1, Diff2] },
        History = [new History { Created = DateTimeOffset.UnixEpoch, CreatedBy = "/bin/sh -c #(nop) ADD file", Comment = "c", EmptyLayer = true }],
    };

    private static ImageStoreIndex FullIndex() => new()
    {
        Refs = new(StringComparer.Ordinal) { ["docker.io/library/busybox:latest"] = "sha256:" + new string('a', 64), ["localhost:5000/x:1"] = "sha256:" + new string('b', 64) },
        Images = new(StringComparer.Ordinal)
        {
            ["sha256:" + new string('a', 64)] = new StoredImage
            {
                Config = "sha256:" + new string('c', 64), ChainIds = [Diff1, "sha256:" + new string('d', 64)], Size = 4_400_000,
                Created = new DateTimeOffset(2024, 9, 26, 21, 31, 42, TimeSpan.Zero), Loaded = new DateTimeOffset(2026, 11, 30, 11, 31, 32, 342, TimeSpan.FromHours(1)),
            },
        },
    };

    [Fact]
    public void A_config_with_every_member_set_reads_as_the_generated_reader_reads_it()
    {
        var full = FullConfig();
        AssertNoDefaultMember(full, "config");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(full, ImageJsonContext.Default.ImageConfig);
        var byHand = ImageDocumentReader.ReadConfig(bytes);
        Assert.Equal(Encoding.UTF8.GetString(bytes), Write(byHand));
        Assert.Equal(Write(JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig)!), Write(byHand));
    }

    [Fact]
    public void A_store_index_with_every_member_set_reads_as_the_generated_reader_reads_it()
    {
        var full = FullIndex();
        AssertNoDefaultMember(full, "index");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(full, ImageJsonContext.Default.ImageStoreIndex);
        var byHand = ImageDocumentReader.ReadStoreIndex(bytes);
        Assert.Equal(Encoding.UTF8.GetString(bytes), Write(byHand));
        Assert.Same(StringComparer.Ordinal, byHand.Refs.Comparer);
        Assert.Same(StringComparer.Ordinal, byHand.Images.Comparer);
    }

    // as `docker build` (moby 20.10) writes an image config: Docker's extra members, nulls, empty objects
    private const string DockerConfig = """
    {"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,
    "ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NGINX_VERSION=1.25.3"],
    "Cmd":["nginx","-g","daemon off;"],"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":5000000000,"Retries":2},
    "ArgsEscaped":true,"Image":"sha256:6a1c1ac5bd1e4e8d9f2e48f0c0f2a7b8c3b3a59d2d3b8f0e4b7c2e4d6a1b2c3d","Volumes":null,"WorkingDir":"",
    "Entrypoint":["/docker-entrypoint.sh"],"OnBuild":null,"Labels":{"maintainer":"NGINX Docker Maintainers \u003cdocker-maint@nginx.com\u003e"},"StopSignal":"SIGQUIT"},
    "container":"3c3b5d2f0c1e","container_config":{"Hostname":"3c3b5d2f0c1e","Cmd":["/bin/sh","-c","#(nop) ","CMD [\"nginx\"]"],"Labels":{}},
    "created":"2023-11-01T05:07:26.421871385Z","docker_version":"20.10.23",
    "history":[{"created":"2023-11-01T00:20:21.216215227Z","created_by":"/bin/sh -c #(nop) ADD file:a1b2 in / "},
    {"created":"2023-11-01T00:20:21.60155298Z","created_by":"/bin/sh -c #(nop)  CMD [\"bash\"]","empty_layer":true}],
    "os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}
    """;

    [Fact]
    public void Dockers_config_reads_as_the_generated_reader_reads_it()
    {
        var bytes = Encoding.UTF8.GetBytes(DockerConfig);
        var byHand = ImageDocuments.ReadConfig(bytes, "nginx config");
        Assert.Equal(Write(JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig)!), Write(byHand));
        Assert.Equal(["/docker-entrypoint.sh"], byHand.Config!.Entrypoint);
        Assert.Equal(["80/tcp"], byHand.Config.ExposedPorts!.Keys);
        Assert.Null(byHand.Config.Volumes);
        Assert.Equal(5_000_000_000, byHand.Config.Healthcheck!.Interval);
        Assert.True(byHand.History![1].EmptyLayer);
    }

    [Theory]
    // Go's encoding/json matches member names in any case, and so does the generated reader
    [InlineData("""{"Architecture":"arm64","OS":"linux","CONFIG":{"cmd":["sh"],"env":null,"workingdir":"/w"},"RootFS":{"Type":"layers","Diff_IDs":[]}}""")]
    // unknown members of every shape, trailing commas
    [InlineData("""{"future":{"a":[1,{"b":null}],"c":"d"},"config":{"Cmd":["sh",],"x":[],},"rootfs":{"type":"layers","diff_ids":[],},}""")]
    // a key given twice keeps the last value; null items and nulls where a reference goes
    [InlineData("""{"config":{"Labels":{"k":"1","k":"2"},"Cmd":["a",null],"Healthcheck":null,"ExposedPorts":{"80/tcp":null}},"created":null,"history":[null],"rootfs":{"diff_ids":null}}""")]
    public void Lenient_configs_read_as_the_generated_reader_reads_them(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(Write(JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig)!), Write(ImageDocumentReader.ReadConfig(bytes)));
    }

    [Theory]
    [InlineData("""{"os":1}""")]
    [InlineData("""{"config":{"Cmd":"sh"}}""")]
    [InlineData("""{"config":{"Healthcheck":{"Interval":"5s"}}}""")]
    [InlineData("""{"created":"yesterday"}""")]
    [InlineData("""{"config":{"ExposedPorts":{"80/tcp":"yes"}}}""")]
    [InlineData("""{"os":"linux" """)]
    [InlineData("""{"os":"linux"} {}""")]
    [InlineData("""[]""")]
    [InlineData("""{/* comment */"os":"linux"}""")]
    public void A_broken_config_is_a_JsonException_for_both_readers(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageConfig));
        Assert.ThrowsAny<JsonException>(() => ImageDocumentReader.ReadConfig(bytes));
    }

    [Theory]
    [InlineData("""{"images":{"sha256:x":{"size":"big"}}}""")]
    [InlineData("""{"images":{"sha256:x":{"loaded":null}}}""")]
    [InlineData("""{"refs":[]}""")]
    [InlineData("""{"refs":{"a":"b"}""")]
    public void A_broken_store_index_is_a_JsonException_for_both_readers(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.ImageStoreIndex));
        Assert.ThrowsAny<JsonException>(() => ImageDocumentReader.ReadStoreIndex(bytes));
    }

    [Fact]
    public void A_config_whose_rootfs_is_null_is_one_line_naming_it()
    {
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.ReadConfig("""{"os":"linux","rootfs":null}"""u8.ToArray(), "image config sha256:ab"));
        Assert.Equal("image config sha256:ab: rootfs is null (the config must list its layers' diff_ids)", e.Message);
    }

    [Fact]
    public void The_document_null_is_refused_in_one_line()
    {
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.ReadStoreIndex("null"u8.ToArray(), "/s/images/index.json"));
        Assert.Equal("/s/images/index.json: invalid JSON: empty document", e.Message);
    }

    private static string Write(ImageConfig c) => Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(c, ImageJsonContext.Default.ImageConfig));
    private static string Write(ImageStoreIndex i) => Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(i, ImageJsonContext.Default.ImageStoreIndex));

    /// <summary>A member left at its default in a sample would not prove the reader reads it.</summary>
    // reflection over the models' own types, which the test assembly keeps whole (no trimming here)
#pragma warning disable IL2072, IL2075
    private static void AssertNoDefaultMember(object o, string path)
    {
        foreach (var p in o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0) continue;
            var v = p.GetValue(o);
            var where = $"{path}.{p.Name}";
            Assert.True(v is not null, $"{where} is null in the sample: set it (and read it in ImageDocumentReader)");
            var t = v.GetType();
            if (t.IsValueType) Assert.False(v.Equals(Activator.CreateInstance(t)), $"{where} is at its default in the sample");
            else if (v is string s) Assert.False(s.Length == 0, $"{where} is empty in the sample");
            else if (v is IEnumerable e)
            {
                var items = e.Cast<object>().ToList();
                Assert.True(items.Count > 0, $"{where} is empty in the sample");
                if (v is IDictionary d) foreach (var item in d.Values) { if (item is StoredImage or EmptyObject) AssertNoDefaultMember(item, where + "[]"); }
                else if (items[0] is History) foreach (var item in items) AssertNoDefaultMember(item, where + "[]");
            }
            else AssertNoDefaultMember(v, where);
        }
    }
#pragma warning restore IL2072, IL2075
}
