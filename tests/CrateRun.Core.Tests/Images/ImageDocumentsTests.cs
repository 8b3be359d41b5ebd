using System.Security.Cryptography;
using System.Text;
using CrateRun.Core.Images;

namespace CrateRun.Core.Tests.Images;

/// <summary>The image documents, read from examples of the OCI image spec and of Docker's registry.</summary>
public sealed class ImageDocumentsTests
{
    // image-spec manifest.md, "Example Image Manifest"
    private const string OciManifest = """
    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
        "size": 7023
      },
      "layers": [
        { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
          "digest": "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0", "size": 32654 },
        { "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
          "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b", "size": 16724 }
      ],
      "annotations": { "com.example.key1": "value1" }
    }
    """;

    // distribution's manifest list (Docker schema2), two platforms
    private const string DockerList = """
    {
      "schemaVersion": 2,
      "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
      "manifests": [
        { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7143,
          "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f",
          "platform": { "architecture": "ppc64le", "os": "linux" } },
        { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 7682,
          "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270",
          "platform": { "architecture": "amd64", "os": "linux", "features": [ "sse4" ] } }
      ]
    }
    """;

    // image-spec config.md, "Example" (abridged)
    private const string Config = """
    {
        "created": "2015-10-31T22:22:56.015925234Z",
        "author": "Alyssa P. Hacker <alyspdev@example.com>",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "alice",
            "ExposedPorts": { "8080/tcp": {} },
            "Env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=oci_is_a", "BAR=well_written_spec" ],
            "Entrypoint": [ "/bin/my-app-binary" ],
            "Cmd": [ "--foreground", "--config", "/etc/my-app.d/default.cfg" ],
            "Volumes": { "/var/job-result-data": {}, "/var/log/my-app-logs": {} },
            "WorkingDir": "/home/alice",
            "Labels": { "com.example.project.git.url": "https://example.com/project.git" },
            "StopSignal": "SIGUSR1"
        },
        "rootfs": {
          "diff_ids": [
            "sha256:c6f988f4874bb0add23a778f753c65efe992244e148a1d2ec2a8b664fb66bbd1",
            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
          ],
          "type": "layers"
        },
        "history": [ { "created": "2015-10-31T22:22:54.690851953Z", "created_by": "/bin/sh -c #(nop) ADD file:a3bc1e842b69636f9df5256c49c5374fb4eef1e281fe3f282c65fb853ee171c5 in /" } ]
    }
    """;

    [Fact]
    public void Reads_the_spec_example_manifest()
    {
        var m = ImageDocuments.ReadManifest(Encoding.UTF8.GetBytes(OciManifest), "m");
        Assert.Equal("sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7", m.Config.Digest);
        Assert.Equal(2, m.Layers.Count);
        Assert.Equal(32654, m.Layers[0].Size);
        Assert.False(ImageDocuments.IsIndex(Encoding.UTF8.GetBytes(OciManifest), null, "m"));
    }

    [Fact]
    public void Reads_the_spec_example_config()
    {
        var c = ImageDocuments.ReadConfig(Encoding.UTF8.GetBytes(Config), "c");
        Assert.Equal(["/bin/my-app-binary"], c.Config!.Entrypoint);
        Assert.Equal("/home/alice", c.Config.WorkingDir);
        Assert.Equal("SIGUSR1", c.Config.StopSignal);
        Assert.Equal("alice", c.Config.User);
        Assert.Equal(2, c.RootFs.DiffIds.Count);
        Assert.Equal(new DateTimeOffset(2015, 10, 31, 22, 22, 56, TimeSpan.Zero), c.Created!.Value.AddTicks(-(c.Created.Value.Ticks % TimeSpan.TicksPerSecond)));
    }

    [Fact]
    public void A_manifest_list_selects_linux_amd64()
    {
        var bytes = Encoding.UTF8.GetBytes(DockerList);
        Assert.True(ImageDocuments.IsIndex(bytes, null, "l"));
        var d = ImageDocuments.SelectPlatform(ImageDocuments.ReadIndex(bytes, "l"), "l");
        Assert.Equal("sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", d.Digest);
    }

    [Fact]
    public void A_list_without_our_platform_says_what_it_has()
    {
        var bytes = Encoding.UTF8.GetBytes(DockerList.Replace("\"amd64\"", "\"arm64\""));
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.SelectPlatform(ImageDocuments.ReadIndex(bytes, "l"), "l"));
        Assert.Contains("linux/amd64", e.Message);
        Assert.Contains("linux/ppc64le, linux/arm64", e.Message);
    }

    [Fact]
    public void An_index_given_as_a_manifest_is_refused()
    {
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.ReadManifest(Encoding.UTF8.GetBytes(DockerList), "x"));
        Assert.Contains("not an image manifest", e.Message);
    }

    [Fact]
    public void Broken_json_is_one_line()
    {
        var e = Assert.Throws<CrateRunException>(() => ImageDocuments.ReadConfig("{\"rootfs\": "u8.ToArray(), "cfg"));
        Assert.StartsWith("cfg: invalid JSON", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Chain_ids_follow_the_spec_definition()
    {
        string[] diffIds = ["sha256:" + new string('a', 64), "sha256:" + new string('b', 64), "sha256:" + new string('c', 64)];
        var chain = ImageDocuments.ChainIds(diffIds);
        static string H(string s) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(s)));
        Assert.Equal(diffIds[0], chain[0]);
        Assert.Equal(H(diffIds[0] + " " + diffIds[1]), chain[1]);
        Assert.Equal(H(chain[1] + " " + diffIds[2]), chain[2]);
    }

    [Theory]
    [InlineData("sha512:abc")]
    [InlineData("sha256:ABC")]
    [InlineData("sha256:../../etc/passwd")]
    public void Only_sha256_hex_digests_name_files(string digest)
    {
        Assert.Throws<CrateRunException>(() => ImageDocuments.Sha256Hex(digest));
    }
}
