using System.Text.Json;
using static CrateRun.Core.HandJson;

namespace CrateRun.Core.State;

/// <summary>
/// Reads a metadata.json written by <see cref="StateJsonWriteContext"/> with a
/// <see cref="Utf8JsonReader"/>, straight into a <see cref="ContainerRecord"/>. Every OCI
/// command loads a record; System.Text.Json's metadata for it is built at run time, on first
/// use, with reflection over its attributes: about 1 ms of a short command's 5-6 ms. Same
/// rules as <see cref="StateJsonContext"/>: camelCase names, unknown members skipped, null
/// for nullable members. A test round-trips a record with every member set, so a member added
/// to the record and not read here fails it.
/// </summary>
public static class ContainerRecordReader
{
    /// <exception cref="JsonException">Not a container record (the message says where).</exception>
    public static ContainerRecord Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            reader.Read();
            var record = ReadRecord(ref reader);
            if (reader.Read()) throw new JsonException("unexpected data after the record");
            return record;
        }
        catch (InvalidOperationException e)
        {
            // a token of the wrong type (a number where a string belongs, ...)
            throw new JsonException($"{e.Message} (at byte {reader.TokenStartIndex})", e);
        }
    }

    private static ContainerRecord ReadRecord(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new ContainerRecord();
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("id"u8)) c.Id = String(ref r) ?? "";
            else if (r.ValueTextEquals("name"u8)) c.Name = String(ref r);
            else if (r.ValueTextEquals("bundle"u8)) c.Bundle = String(ref r) ?? "";
            else if (r.ValueTextEquals("rootfs"u8)) c.Rootfs = String(ref r) ?? "";
            else if (r.ValueTextEquals("command"u8)) c.Command = Strings(ref r) ?? [];
            else if (r.ValueTextEquals("status"u8)) c.Status = String(ref r) ?? "";
            else if (r.ValueTextEquals("pid"u8)) c.Pid = Value(ref r).GetInt32();
            else if (r.ValueTextEquals("pidStartTime"u8)) c.PidStartTime = Value(ref r).GetUInt64();
            else if (r.ValueTextEquals("monitorPid"u8)) c.MonitorPid = Value(ref r).GetInt32();
            else if (r.ValueTextEquals("monitorStartTime"u8)) c.MonitorStartTime = Value(ref r).GetUInt64();
            else if (r.ValueTextEquals("created"u8)) c.Created = Value(ref r).GetDateTimeOffset();
            else if (r.ValueTextEquals("started"u8)) c.Started = Nullable(ref r) ? r.GetDateTimeOffset() : null;
            else if (r.ValueTextEquals("finished"u8)) c.Finished = Nullable(ref r) ? r.GetDateTimeOffset() : null;
            else if (r.ValueTextEquals("exitCode"u8)) c.ExitCode = Nullable(ref r) ? r.GetInt32() : null;
            else if (r.ValueTextEquals("oomKilled"u8)) c.OomKilled = Value(ref r).GetBoolean();
            else if (r.ValueTextEquals("autoRemove"u8)) c.AutoRemove = Value(ref r).GetBoolean();
            else if (r.ValueTextEquals("tty"u8)) c.Tty = Value(ref r).GetBoolean();
            else if (r.ValueTextEquals("hostname"u8)) c.Hostname = String(ref r);
            else if (r.ValueTextEquals("limits"u8)) c.Limits = ReadLimits(ref r) ?? new();
            else if (r.ValueTextEquals("cgroupPaths"u8)) c.CgroupPaths = StringMap(ref r) ?? [];
            else if (r.ValueTextEquals("cgroupCreatedParents"u8)) c.CgroupCreatedParents = Strings(ref r);
            else if (r.ValueTextEquals("annotations"u8)) c.Annotations = StringMap(ref r);
            else if (r.ValueTextEquals("hooks"u8)) c.Hooks = ReadHooks(ref r);
            else if (r.ValueTextEquals("logsStopped"u8)) c.LogsStopped = String(ref r);
            else if (r.ValueTextEquals("face"u8)) c.Face = String(ref r) ?? "";
            else if (r.ValueTextEquals("labels"u8)) c.Labels = StringMap(ref r);
            else if (r.ValueTextEquals("keepOnFailure"u8)) c.KeepOnFailure = Value(ref r).GetBoolean();
            else if (r.ValueTextEquals("restartCount"u8)) c.RestartCount = Value(ref r).GetInt32();
            else if (r.ValueTextEquals("stopSignal"u8)) c.StopSignal = String(ref r);
            else if (r.ValueTextEquals("stopTimeout"u8)) c.StopTimeout = Nullable(ref r) ? r.GetInt32() : null;
            else if (r.ValueTextEquals("restartPolicy"u8)) c.RestartPolicy = String(ref r);
            else if (r.ValueTextEquals("stoppedByUser"u8)) c.StoppedByUser = Value(ref r).GetBoolean();
            else if (r.ValueTextEquals("ipcMode"u8)) c.IpcMode = String(ref r);
            // Docker-face members as well: the generated reader
            else if (r.ValueTextEquals("healthcheck"u8)) c.Healthcheck = Nullable(ref r) ? JsonSerializer.Deserialize(ref r, StateJsonContext.Default.HealthCheck) : null;
            else if (r.ValueTextEquals("health"u8)) c.Health = Nullable(ref r) ? JsonSerializer.Deserialize(ref r, StateJsonContext.Default.HealthState) : null;
            // read here as well: every `craterun run` has one (--network none included), and its monitor reads the record
            else if (r.ValueTextEquals("network"u8)) c.Network = ReadNetwork(ref r);
            else Skip(ref r);
        }
        return c;
    }

    private static ContainerLimits? ReadLimits(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var l = new ContainerLimits();
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("memoryBytes"u8)) l.MemoryBytes = Nullable(ref r) ? r.GetInt64() : null;
            else if (r.ValueTextEquals("pids"u8)) l.Pids = Nullable(ref r) ? r.GetInt64() : null;
            else if (r.ValueTextEquals("cpuQuota"u8)) l.CpuQuota = Nullable(ref r) ? r.GetInt64() : null;
            else if (r.ValueTextEquals("cpuPeriod"u8)) l.CpuPeriod = Nullable(ref r) ? r.GetUInt64() : null;
            else Skip(ref r);
        }
        return l;
    }

    private static Network.NetworkSettings? ReadNetwork(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var n = new Network.NetworkSettings();
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("mode"u8)) n.Mode = String(ref r) ?? "";
            else if (r.ValueTextEquals("networks"u8)) n.Networks = Strings(ref r) ?? [];
            else if (r.ValueTextEquals("joinedContainer"u8)) n.JoinedContainer = String(ref r);
            else if (r.ValueTextEquals("ports"u8)) n.Ports = PortList(ref r) ?? [];
            else if (r.ValueTextEquals("dns"u8)) n.Dns = Strings(ref r) ?? [];
            else if (r.ValueTextEquals("extraHosts"u8)) n.ExtraHosts = Strings(ref r) ?? [];
            else if (r.ValueTextEquals("addresses"u8)) n.Addresses = Strings(ref r) ?? [];
            else Skip(ref r);
        }
        return n;
    }

    private static List<Network.PortMapping>? PortList(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<Network.PortMapping>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            Expect(ref r, JsonTokenType.StartObject);
            int hostPort = 0, containerPort = 0;
            string protocol = "tcp";
            string? hostIp = null;
            while (NextProperty(ref r))
            {
                if (r.ValueTextEquals("hostPort"u8)) hostPort = Value(ref r).GetInt32();
                else if (r.ValueTextEquals("containerPort"u8)) containerPort = Value(ref r).GetInt32();
                else if (r.ValueTextEquals("protocol"u8)) protocol = String(ref r) ?? "";
                else if (r.ValueTextEquals("hostIP"u8)) hostIp = String(ref r); // its [JsonPropertyName]
                else Skip(ref r);
            }
            list.Add(new Network.PortMapping { HostPort = hostPort, ContainerPort = containerPort, Protocol = protocol, HostIp = hostIp });
        }
        return list;
    }

    private static Oci.Hooks? ReadHooks(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var h = new Oci.Hooks();
        while (NextProperty(ref r))
        {
            if (r.ValueTextEquals("prestart"u8)) h.Prestart = HookList(ref r);
            else if (r.ValueTextEquals("createRuntime"u8)) h.CreateRuntime = HookList(ref r);
            else if (r.ValueTextEquals("createContainer"u8)) h.CreateContainer = HookList(ref r);
            else if (r.ValueTextEquals("startContainer"u8)) h.StartContainer = HookList(ref r);
            else if (r.ValueTextEquals("poststart"u8)) h.Poststart = HookList(ref r);
            else if (r.ValueTextEquals("poststop"u8)) h.Poststop = HookList(ref r);
            else Skip(ref r);
        }
        return h;
    }

    private static List<Oci.Hook>? HookList(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<Oci.Hook>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            Expect(ref r, JsonTokenType.StartObject);
            var hook = new Oci.Hook();
            while (NextProperty(ref r))
            {
                if (r.ValueTextEquals("path"u8)) hook.Path = String(ref r) ?? "";
                else if (r.ValueTextEquals("args"u8)) hook.Args = Strings(ref r);
                else if (r.ValueTextEquals("env"u8)) hook.Env = Strings(ref r);
                else if (r.ValueTextEquals("timeout"u8)) hook.Timeout = Nullable(ref r) ? r.GetInt32() : null;
                else Skip(ref r);
            }
            list.Add(hook);
        }
        return list;
    }

    /// <summary>Moves to the next property name of the current object; false at its end.</summary>
    private static bool NextProperty(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the record ends inside an object");
        return r.TokenType == JsonTokenType.PropertyName;
    }

    /// <summary>Moves to the property's value.</summary>
    private static ref Utf8JsonReader Value(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the record ends before a value");
        return ref r;
    }

    /// <summary>Moves to the property's value; false when it is null.</summary>
    private static bool Nullable(ref Utf8JsonReader r) => Value(ref r).TokenType != JsonTokenType.Null;

    private static string? String(ref Utf8JsonReader r) => Nullable(ref r) ? r.GetString() : null;

    private static List<string>? Strings(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<string>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray) list.Add(r.GetString()!);
        return list;
    }

    private static Dictionary<string, string>? StringMap(ref Utf8JsonReader r)
    {
        if (!Nullable(ref r)) return null;
        Expect(ref r, JsonTokenType.StartObject);
        var map = new Dictionary<string, string>();
        while (NextProperty(ref r))
        {
            var key = r.GetString()!;
            map[key] = String(ref r)!;
        }
        return map;
    }

    private static void Skip(ref Utf8JsonReader r) => Value(ref r).Skip();
}
