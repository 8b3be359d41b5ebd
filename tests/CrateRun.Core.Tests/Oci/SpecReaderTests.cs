using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

/// <summary>
/// <see cref="SpecReader"/> against the generated reader (<see cref="OciJsonContext"/>, through
/// <see cref="OciJson.Read{T}"/>, today's reading): on configs other tools wrote, on the spec's
/// example, and on documents generated from the model by reflection (every member set, each one
/// absent, null, of a wrong type, given twice, its name in another case, an unknown member in
/// every object). Both take a document and give the same model, member by member, or both refuse
/// it and <see cref="OciJson.ReadSpec"/> throws today's exception with today's message.
/// </summary>
public class SpecReaderTests
{
    private static string Config(string name) => File.ReadAllText(Repo.File($"tests/CrateRun.Core.Tests/Oci/Configs/{name}"));

    // ---- configs other tools wrote -------------------------------------------------------------

    [Theory]
    [InlineData("runc-spec.json")]
    [InlineData("runc-spec-rootless.json")]
    [InlineData("runtime-spec-config-md-example.json")]
    public void Configs_other_tools_wrote_read_the_same(string file)
    {
        var json = Config(file);
        var spec = AssertSameSpec(json, file);

        Assert.NotNull(spec);
        Assert.NotNull(spec.Process);
        Assert.NotEmpty(spec.Process.Args!);
        Assert.NotNull(spec.Linux?.Namespaces);
    }

    [Fact]
    public void Every_config_captured_from_podman_containerd_cri_and_docker_reads_the_same()
    {
        // Configs/README.md: what each client sent to its runtime's `create`
        var files = Directory.GetFiles(Repo.File("tests/CrateRun.Core.Tests/Oci/Configs"), "*.json");
        foreach (var client in new[] { "podman-", "cri-", "docker-" })
        {
            Assert.Contains(files, f => Path.GetFileName(f).StartsWith(client, StringComparison.Ordinal));
        }
        foreach (var file in files)
        {
            var spec = AssertSameSpec(File.ReadAllText(file), Path.GetFileName(file));
            Assert.NotNull(spec?.Process?.Args);
        }
    }

    [Fact]
    public void Runc_spec_of_the_installed_runc_reads_the_same()
    {
        // the fixtures are runc 1.1.5's; the installed runc's own output as well (prerequisite: tests/install-prereqs.sh)
        foreach (var args in new[] { "spec", "spec --rootless" })
        {
            using var dir = new TempDir();
            var psi = new System.Diagnostics.ProcessStartInfo("runc", args.Split(' ')) { WorkingDirectory = dir.Path, RedirectStandardError = true };
            using (var p = System.Diagnostics.Process.Start(psi)!)
            {
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, $"runc {args}: {p.StandardError.ReadToEnd()}");
            }
            AssertSameSpec(File.ReadAllText(dir.Sub("config.json")), $"runc {args}");
        }
    }

    [Fact]
    public void The_spec_example_before_capabilities_were_an_object_is_refused_by_both()
    {
        // runtime-spec 0.5's example: "capabilities" an array of names (an object since 1.0)
        var json = Config("runtime-spec-config-md-example.json").Replace(
            "\"capabilities\": {", "\"capabilities\": [ \"CAP_KILL\" ], \"x\": {", StringComparison.Ordinal);

        Assert.Null(AssertSameSpec(json, "capabilities as an array"));
    }

    [Fact]
    public void The_existing_test_config_with_comments_trailing_commas_and_unknown_members_reads_the_same()
    {
        var field = typeof(SpecJsonTests).GetField("RuncLikeConfig", BindingFlags.NonPublic | BindingFlags.Static)!;
        Assert.NotNull(AssertSameSpec((string)field.GetValue(null)!, "SpecJsonTests.RuncLikeConfig"));
    }

    // ---- documents generated from the model ----------------------------------------------------

    [Fact]
    public void Every_member_set_reads_the_same()
    {
        var spec = AssertSameSpec(FullJson(1), "every member set");

        // the generated document reached every member: nothing is left at its default
        AssertNoDefaults(spec!, "$");
    }

    [Fact]
    public void Every_member_absent_null_or_of_another_type_reads_the_same()
    {
        var full = JsonNode.Parse(FullJson(1))!;
        // the first item of each list stands for the others (the same reader reads them)
        var paths = MemberPaths(full).Where(static p => !p.Any(static s => s is int and > 0)).ToList();
        Assert.True(paths.Count > 150, $"{paths.Count} members");
        string[] others = ["null", "\"x\"", "-1", "1.5", "4294967296", "18446744073709551616", "true", "{}", "[null]"];
        var refused = 0;
        foreach (var path in paths)
        {
            var absent = full.DeepClone();
            Remove(absent, path);
            AssertSameSpec(absent.ToJsonString(), $"{Show(path)} absent");

            foreach (var other in others)
            {
                var doc = full.DeepClone();
                Set(doc, path, JsonNode.Parse(other));
                if (AssertSameSpec(doc.ToJsonString(), $"{Show(path)} = {other}") is null) refused++;
            }
        }
        Assert.True(refused > paths.Count, "the wrong types were refused");
    }

    [Fact]
    public void Member_names_in_any_case_escaped_or_with_unicode_case_folds_read_the_same()
    {
        var full = FullJson(1);
        AssertSameSpec(RenameAll(JsonNode.Parse(full)!, static n => n.ToUpperInvariant()).ToJsonString(), "upper case");
        AssertSameSpec(RenameAll(JsonNode.Parse(full)!, static n => n.ToLowerInvariant()).ToJsonString(), "lower case");
        AssertSameSpec(RenameAll(JsonNode.Parse(full)!, static n => string.Concat(n.Select((c, i) => i % 2 == 0 ? char.ToUpperInvariant(c) : c))).ToJsonString(), "mixed case");

        // names spelled with \u escapes (the reader sees ValueIsEscaped)
        AssertSameSpec(Regex("\"([a-zA-Z]+)\":", full, m => "\"\\u00" + ((int)m.Groups[1].Value[0]).ToString("x2") + m.Groups[1].Value[1..] + "\":"), "escaped names");

        // characters whose simple case mapping is an ASCII letter: what OrdinalIgnoreCase makes of them, both do
        foreach (var (ascii, other) in new[] { ("s", "\u017F"), ("k", "\u212A"), ("i", "\u0131"), ("I", "\u0130"), ("K", "\u212A") })
        {
            AssertSameSpec(RenameAll(JsonNode.Parse(full)!, n => n.Replace(ascii, other, StringComparison.Ordinal)).ToJsonString(), $"{ascii} spelled U+{(int)other[0]:X4}");
        }
    }

    [Fact]
    public void An_unknown_member_in_any_object_is_skipped()
    {
        var full = JsonNode.Parse(FullJson(1))!;
        var objects = ObjectPaths(full).ToList();
        Assert.True(objects.Count > 40, $"{objects.Count} objects");
        foreach (var path in objects)
        {
            foreach (var unknown in new[] { "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", "null", "[[[]]]", "\"$id\"" })
            {
                var doc = full.DeepClone();
                var node = path.Count == 0 ? doc : Get(doc, path)!;
                node.AsObject()["x-unknown"] = JsonNode.Parse(unknown);
                node.AsObject()["$id"] = 1;
                AssertSameSpec(doc.ToJsonString(), $"{Show(path)} + an unknown member {unknown}");
            }
        }
    }

    [Fact]
    public void A_member_given_twice_keeps_the_same_value_in_both()
    {
        var a = JsonNode.Parse(FullJson(1))!;
        var b = JsonNode.Parse(FullJson(2))!;
        foreach (var path in MemberPaths(a).Where(static p => p[^1] is string))
        {
            var second = Get(b, path) ?? JsonValue.Create("other");
            AssertSameSpec(Write(a, path, second.ToJsonString(), before: true), $"{Show(path)} twice (other first)");
            AssertSameSpec(Write(a, path, second.ToJsonString(), before: false), $"{Show(path)} twice (other last)");
            AssertSameSpec(Write(a, path, "null", before: true), $"{Show(path)} twice (null first)");
        }
    }

    [Fact]
    public void Comments_and_trailing_commas_anywhere_read_the_same()
    {
        var full = JsonNode.Parse(FullJson(1))!;
        var text = Write(full, null, null, before: false, decorate: true);
        Assert.Contains("/*", text);
        Assert.NotNull(AssertSameSpec(text, "comments and trailing commas"));
        Assert.NotNull(AssertSameSpec("// leading\n" + FullJson(1) + "\n// trailing\n/* block */", "comments around the document"));
    }

    [Fact]
    public void Numbers_at_their_limits_read_the_same()
    {
        foreach (var (path, values) in new (string, string[])[]
        {
            ("process.user.uid", ["0", "4294967295", "4294967296", "-1", "1.0", "1e3", "1E+2", "0.0"]),
            ("process.oomScoreAdj", ["-2147483648", "2147483647", "2147483648", "-1000", "1e1", "-0"]),
            ("process.rlimits.0.hard", ["18446744073709551615", "18446744073709551616", "0", "-0", "1.5"]),
            ("linux.resources.memory.limit", ["-9223372036854775808", "9223372036854775807", "9223372036854775808", "-1"]),
            ("linux.resources.blockIO.weight", ["65535", "65536", "0", "-1"]),
            ("linux.devices.0.major", ["-1", "9223372036854775807", "1.0"]),
            ("linux.seccomp.syscalls.0.args.0.value", ["18446744073709551615", "1e19"]),
        })
        {
            foreach (var value in values)
            {
                var doc = JsonNode.Parse(FullJson(1))!;
                Set(doc, [.. path.Split('.').Select(static s => int.TryParse(s, out var i) ? (object)i : s)], JsonNode.Parse(value));
                AssertSameSpec(doc.ToJsonString(), $"{path} = {value}");
            }
        }
    }

    [Fact]
    public void Process_resources_and_seccomp_documents_read_the_same()
    {
        // exec --process, update --resources, a seccomp profile file: the same reader, from the object down
        var full = JsonNode.Parse(FullJson(1))!;
        foreach (var (path, name) in new[] { ("process", "process"), ("linux.resources", "resources"), ("linux.seccomp", "seccomp") })
        {
            var segments = path.Split('.').Cast<object>().ToList();
            var node = Get(full, segments)!;
            var docs = new List<(string, string)> { (node.ToJsonString(), "every member"), ("{}", "empty"), ("null", "null"), ("[]", "array"), ("{\"x\":", "truncated") };
            foreach (var member in MemberPaths(node))
            {
                var absent = node.DeepClone();
                Remove(absent, member);
                docs.Add((absent.ToJsonString(), $"{Show(member)} absent"));
                var wrong = node.DeepClone();
                Set(wrong, member, JsonValue.Create("x"));
                docs.Add((wrong.ToJsonString(), $"{Show(member)} = \"x\""));
                var nul = node.DeepClone();
                Set(nul, member, null);
                docs.Add((nul.ToJsonString(), $"{Show(member)} = null"));
            }
            foreach (var (json, label) in docs)
            {
                switch (name)
                {
                    case "process": AssertSame(json, $"{name}: {label}", SpecReader.ReadProcess, OciJsonContext.Default.Process, OciJson.ReadProcess); break;
                    case "resources": AssertSame(json, $"{name}: {label}", SpecReader.ReadResources, OciJsonContext.Default.LinuxResources, OciJson.ReadResources); break;
                    default: AssertSame(json, $"{name}: {label}", SpecReader.ReadSeccomp, OciJsonContext.Default.LinuxSeccomp, OciJson.ReadSeccomp); break;
                }
            }
        }
    }

    // ---- invalid documents -------------------------------------------------------------------

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("/* only a comment */")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("1")]
    [InlineData("\"config\"")]
    [InlineData("true")]
    [InlineData("{")]
    [InlineData("{\"ociVersion\":")]
    [InlineData("{\"ociVersion\": \"1.2.0\"")]
    [InlineData("{} {}")]
    [InlineData("{}x")]
    [InlineData("{}}")]
    [InlineData("{\"ociVersion\": '1.2.0'}")]
    [InlineData("{ociVersion: \"1.2.0\"}")]
    [InlineData("{\"ociVersion\": \"1.2.0\",,}")]
    [InlineData("{\"hostname\": \"a\\x\"}")]
    [InlineData("{\"hostname\": \"a\nb\"}")]
    [InlineData("{\"process\": {\"cwd\": null}}")]
    [InlineData("{\"process\": {\"user\": null}}")]
    [InlineData("{\"process\": {\"user\": []}}")]
    [InlineData("{\"process\": {\"args\": \"sh\"}}")]
    [InlineData("{\"process\": {\"args\": [1]}}")]
    [InlineData("{\"process\": {\"terminal\": \"true\"}}")]
    [InlineData("{\"process\": {\"terminal\": null}}")]
    [InlineData("{\"process\": {\"user\": {\"uid\": \"0\"}}}")]
    [InlineData("{\"process\": {\"user\": {\"additionalGids\": [1, null]}}}")]
    [InlineData("{\"mounts\": {}}")]
    [InlineData("{\"mounts\": [\"/proc\"]}")]
    [InlineData("{\"annotations\": []}")]
    [InlineData("{\"annotations\": {\"a\": 1}}")]
    [InlineData("{\"annotations\": {\"a\": {}}}")]
    [InlineData("{\"linux\": {\"timeOffsets\": {\"monotonic\": 5}}}")]
    [InlineData("{\"linux\": {\"seccomp\": {\"syscalls\": [{\"names\": null}]}}}")]
    [InlineData("\uFEFF{}")]
    public void Invalid_documents_are_refused_by_both_with_todays_exception_and_message(string json) =>
        Assert.Null(AssertSameSpec(json, json));

    [Fact]
    public void Text_with_a_lone_surrogate_is_refused_by_both_with_todays_exception()
    {
        // System.Text.Json does not transcode it to UTF-8 (an ArgumentException, not a FormatException, today)
        var json = "{\"hostname\": \"a" + '\uD800' + "\"}";
        Assert.Null(AssertSameSpec(json, "a lone surrogate"));
    }

    [Theory]
    [InlineData("{\"mounts\": [null, {\"destination\": \"/a\"}]}")]
    [InlineData("{\"process\": {\"args\": [\"sh\", null]}}")]
    [InlineData("{\"annotations\": {\"a\": null, \"a\": \"b\", \"c\": null}}")]
    [InlineData("{\"linux\": {\"timeOffsets\": {\"monotonic\": null}, \"resources\": {\"rdma\": {\"x\": null}}}}")]
    [InlineData("{\"linux\": {\"sysctl\": {\"k\": \"1\", \"k\": \"2\", \"K\": \"3\"}}}")]
    [InlineData("{\"process\": {\"user\": {}}}")]
    [InlineData("{\"hostname\": \"\\u00e9\\ud83d\\ude00\\\"\"}")]
    [InlineData("{}")]
    public void Null_items_duplicate_keys_and_escapes_read_the_same(string json) =>
        Assert.NotNull(AssertSameSpec(json, json));

    [Fact]
    public void Every_truncation_of_a_config_is_refused_by_both()
    {
        var json = Config("runc-spec.json");
        for (var length = 0; length < json.TrimEnd().Length; length++)
        {
            Assert.Null(AssertSameSpec(json[..length], $"runc spec cut at {length}"));
        }
    }

    [Fact]
    public void Nesting_deeper_than_64_is_refused_by_both_and_64_is_not()
    {
        static string Nested(int depth) => "{\"ociVersion\":\"1\",\"x\":" + new string('[', depth - 1) + new string(']', depth - 1) + "}";
        Assert.NotNull(AssertSameSpec(Nested(64), "depth 64"));
        Assert.Null(AssertSameSpec(Nested(65), "depth 65"));
    }

    [Fact]
    public void LoadSpec_reads_with_the_hand_reader_and_names_the_file_in_todays_message()
    {
        using var dir = new TempDir();
        var path = dir.Sub("config.json");
        File.WriteAllText(path, Config("runc-spec.json"));
        AssertDeepEqual(OciJson.Read(Config("runc-spec.json"), OciJsonContext.Default.Spec, "x"), OciJson.LoadSpec(path), "$", "LoadSpec");

        const string Bad = "{\"process\": {\"user\": {\"uid\": -1}}}";
        File.WriteAllText(path, Bad);
        var ex = Assert.Throws<FormatException>(() => OciJson.LoadSpec(path));
        var today = Assert.Throws<FormatException>(() => OciJson.Read(Bad, OciJsonContext.Default.Spec, $"config file {path}"));
        Assert.Equal(today.Message, ex.Message);
        Assert.StartsWith($"config file {path}: malformed JSON: ", ex.Message);
        Assert.Contains("Path: $.process.user.uid", ex.Message);
    }

    // reflection over the model's types, in a test (the product never does it: NativeAOT)
#pragma warning disable IL2067, IL2070, IL2072, IL2075

    // ---- the comparison --------------------------------------------------------------------------

    /// <summary>
    /// Reads <paramref name="json"/> three ways: the generated reader through today's wrapper, the hand
    /// reader alone, and <see cref="OciJson.ReadSpec"/>. Either all three give the same model, or the first
    /// two refuse it and the third throws what the first threw. Returns the model, or null when refused.
    /// </summary>
    private static Spec? AssertSameSpec(string json, string label) =>
        AssertSame(json, label, SpecReader.ReadSpec, OciJsonContext.Default.Spec, static (j, w) => OciJson.ReadSpec(j, w));

    private delegate T HandReader<T>(ReadOnlySpan<byte> json);

    private static T? AssertSame<T>(string json, string label, HandReader<T> hand, JsonTypeInfo<T> generated, Func<string, string, T> wired)
        where T : class
    {
        T? today = null;
        Exception? todayError = null;
        try { today = OciJson.Read(json, generated, "config.json"); }
        catch (Exception e) { todayError = e; }

        T? byHand = null;
        Exception? handError = null;
        try { byHand = hand(Strict.GetBytes(json)); }
        catch (JsonException e) { handError = e; }
        catch (EncoderFallbackException e) { handError = e; } // text System.Text.Json refuses to transcode

        T? now = null;
        Exception? nowError = null;
        try { now = wired(json, "config.json"); }
        catch (Exception e) { nowError = e; }

        if (todayError is not null)
        {
            Assert.True(handError is not null, $"{label}: the generated reader refuses it ({todayError.Message}), the hand reader takes it");
            Assert.True(nowError is not null, $"{label}: the generated reader refuses it ({todayError.Message}), OciJson takes it");
            Assert.Equal(todayError.GetType(), nowError.GetType());
            Assert.Equal(todayError.Message, nowError.Message);
            return null;
        }

        Assert.True(handError is null, $"{label}: the generated reader takes it, the hand reader refuses it: {handError?.Message}");
        Assert.True(nowError is null, $"{label}: the generated reader takes it, OciJson refuses it: {nowError?.Message}");
        AssertDeepEqual(today!, byHand!, "$", label);
        AssertDeepEqual(today!, now!, "$", label);
        Assert.Equal(OciJson.Write(today, indented: true), OciJson.Write(byHand, indented: true));
        return byHand;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Every public property of every object, list item and map value, compared; the message names the first difference.</summary>
    private static void AssertDeepEqual(object? expected, object? actual, string path, string label)
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{label}: {path}: {Describe(expected)} (generated) vs {Describe(actual)} (hand)");
            return;
        }
        Assert.True(expected.GetType() == actual.GetType(), $"{label}: {path}: {expected.GetType()} vs {actual.GetType()}");
        switch (expected)
        {
            case string or bool or int or uint or long or ulong or ushort:
                Assert.True(expected.Equals(actual), $"{label}: {path}: {Describe(expected)} (generated) vs {Describe(actual)} (hand)");
                return;
            case IDictionary map:
                var other = (IDictionary)actual;
                Assert.True(map.Count == other.Count, $"{label}: {path}: {map.Count} entries (generated) vs {other.Count} (hand)");
                foreach (DictionaryEntry entry in map)
                {
                    Assert.True(other.Contains(entry.Key), $"{label}: {path}: key {entry.Key} missing (hand)");
                    AssertDeepEqual(entry.Value, other[entry.Key], $"{path}[\"{entry.Key}\"]", label);
                }
                return;
            case IList list:
                var items = (IList)actual;
                Assert.True(list.Count == items.Count, $"{label}: {path}: {list.Count} items (generated) vs {items.Count} (hand)");
                for (var i = 0; i < list.Count; i++) AssertDeepEqual(list[i], items[i], $"{path}[{i}]", label);
                return;
        }
        Assert.Equal("CrateRun.Core.Oci", expected.GetType().Namespace);
        foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            AssertDeepEqual(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}", label);
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => value.ToString()!,
    };

    // ---- the generated documents -----------------------------------------------------------------

    /// <summary>A config.json with every member of every type of the model set to a value of its own (lists and maps of two).</summary>
    private static string FullJson(int seed)
    {
        var counter = seed * 1000;
        var spec = (Spec)Fill(typeof(Spec), ref counter);
        return OciJson.Serialize(spec);
    }

    private static object Fill(Type type, ref int n)
    {
        n++;
        if (Nullable.GetUnderlyingType(type) is { } underlying) return Fill(underlying, ref n);
        if (type == typeof(string)) return $"v{n} é\"\\<&>/";
        if (type == typeof(bool)) return true;
        if (type == typeof(int)) return -100 - n;
        if (type == typeof(uint)) return (uint)(4_000_000_000 + n);
        if (type == typeof(long)) return -5_000_000_000L - n;
        if (type == typeof(ulong)) return ulong.MaxValue - (ulong)n;
        if (type == typeof(ushort)) return (ushort)(60_000 + n);
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (IList)Activator.CreateInstance(type)!;
            list.Add(Fill(type.GetGenericArguments()[0], ref n));
            list.Add(Fill(type.GetGenericArguments()[0], ref n));
            return list;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var map = (IDictionary)Activator.CreateInstance(type)!;
            map[$"key.{n}"] = Fill(type.GetGenericArguments()[1], ref n);
            map[$"Key-{n}/é"] = Fill(type.GetGenericArguments()[1], ref n);
            return map;
        }
        Assert.True(type.Namespace == "CrateRun.Core.Oci" && type.IsClass, $"a member of type {type} in the model: teach the test (and SpecReader) about it");
        var value = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.NotNull(property.GetCustomAttribute<JsonPropertyNameAttribute>());
            property.SetValue(value, Fill(property.PropertyType, ref n));
        }
        return value;
    }

    /// <summary>Fails on any member still at its type's default: the filled document set them all.</summary>
    private static void AssertNoDefaults(object value, string path)
    {
        switch (value)
        {
            case string: return;
            case IDictionary map:
                Assert.NotEmpty(map);
                foreach (DictionaryEntry e in map) AssertNoDefaults(e.Value!, $"{path}[{e.Key}]");
                return;
            case IList list:
                Assert.NotEmpty(list);
                foreach (var item in list) AssertNoDefaults(item!, path + "[]");
                return;
        }
        if (value.GetType().Namespace != "CrateRun.Core.Oci") return;
        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var member = property.GetValue(value);
            Assert.True(member is not null && !member.Equals(property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null),
                $"{path}.{property.Name} is at its default");
            AssertNoDefaults(member!, $"{path}.{property.Name}");
        }
    }

    /// <summary>The path (member names and item indexes) of every member of every object, and of every item of every array, in the document.</summary>
    private static IEnumerable<List<object>> MemberPaths(JsonNode node, List<object>? at = null)
    {
        at ??= [];
        if (node is JsonObject o)
        {
            foreach (var (key, value) in o)
            {
                List<object> path = [.. at, key];
                yield return path;
                if (value is not null) foreach (var p in MemberPaths(value, path)) yield return p;
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                List<object> path = [.. at, i];
                yield return path;
                if (a[i] is { } item) foreach (var p in MemberPaths(item, path)) yield return p;
            }
        }
    }

    private static IEnumerable<List<object>> ObjectPaths(JsonNode node)
    {
        if (node is JsonObject) yield return [];
        foreach (var path in MemberPaths(node))
        {
            if (Get(node, path) is JsonObject) yield return path;
        }
    }

    private static JsonNode? Get(JsonNode root, List<object> path)
    {
        JsonNode? node = root;
        foreach (var segment in path)
        {
            node = segment switch
            {
                string key => node is JsonObject o && o.TryGetPropertyValue(key, out var v) ? v : null,
                int index => node is JsonArray a && index < a.Count ? a[index] : null,
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    private static void Set(JsonNode root, List<object> path, JsonNode? value)
    {
        var parent = Get(root, path[..^1])!;
        if (path[^1] is string key) parent.AsObject()[key] = value;
        else parent.AsArray()[(int)path[^1]] = value;
    }

    private static void Remove(JsonNode root, List<object> path)
    {
        var parent = Get(root, path[..^1])!;
        if (path[^1] is string key) parent.AsObject().Remove(key);
        else parent.AsArray().RemoveAt((int)path[^1]);
    }

    private static string Show(List<object> path) => "$" + string.Concat(path.Select(static s => s is int i ? $"[{i}]" : $".{s}"));

    private static JsonNode RenameAll(JsonNode node, Func<string, string> rename)
    {
        switch (node)
        {
            case JsonObject o:
                var renamed = new JsonObject();
                foreach (var (key, value) in o.ToList())
                {
                    o.Remove(key);
                    renamed[rename(key)] = value is null ? null : RenameAll(value, rename);
                }
                return renamed;
            case JsonArray a:
                var items = new JsonArray();
                foreach (var item in a.ToList())
                {
                    a.Remove(item);
                    items.Add(item is null ? null : RenameAll(item, rename));
                }
                return items;
            default:
                return node;
        }
    }

    private static string Regex(string pattern, string input, Func<System.Text.RegularExpressions.Match, string> replace) =>
        System.Text.RegularExpressions.Regex.Replace(input, pattern, m => replace(m));

    /// <summary>
    /// The document as text; the member at <paramref name="twice"/> is written twice, <paramref name="other"/>
    /// first or last; <paramref name="decorate"/> adds a comment before every member and item and a trailing comma.
    /// </summary>
    private static string Write(JsonNode root, List<object>? twice, string? other, bool before, bool decorate = false)
    {
        var text = new StringBuilder();
        var target = twice is null ? null : Show(twice);
        void Emit(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject o:
                    text.Append('{');
                    var first = true;
                    foreach (var (key, value) in o)
                    {
                        var member = $"{path}.{key}";
                        if (!first) text.Append(',');
                        first = false;
                        if (decorate) text.Append("/* ").Append(key).Append(" */ ");
                        var name = JsonValue.Create(key).ToJsonString();
                        if (member == target && before) text.Append(name).Append(':').Append(other).Append(',');
                        text.Append(name).Append(':');
                        Emit(value, member);
                        if (member == target && !before) text.Append(',').Append(name).Append(':').Append(other);
                    }
                    if (decorate && !first) text.Append(", // trailing\n");
                    text.Append('}');
                    break;
                case JsonArray a:
                    text.Append('[');
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (i > 0) text.Append(',');
                        if (decorate) text.Append("/* item */");
                        Emit(a[i], $"{path}[{i}]");
                    }
                    if (decorate && a.Count > 0) text.Append(',');
                    text.Append(']');
                    break;
                case null:
                    text.Append("null");
                    break;
                default:
                    text.Append(node.ToJsonString());
                    break;
            }
        }
        Emit(root, "$");
        return text.ToString();
    }
#pragma warning restore IL2067, IL2070, IL2072, IL2075
}
