using System.Diagnostics;
using CrateRun.Core.State;

namespace CrateRun.Core.Tests.State;

public sealed class ContainerStoreTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly ContainerStore _store;

    public ContainerStoreTests() => _store = new ContainerStore(_tmp.Sub("root"));

    public void Dispose() => _tmp.Dispose();

    private static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private ContainerRecord Add(string id, string? name = null, int minutes = 0)
    {
        _store.CreateDir(id);
        var r = new ContainerRecord { Id = id, Name = name, Created = T0.AddMinutes(minutes), Status = ContainerStatus.Created };
        _store.Save(r);
        return r;
    }

    [Fact]
    public void Root_is_absolute_and_paths_are_below_it()
    {
        var store = new ContainerStore("relative/root");
        Assert.True(Path.IsPathRooted(store.Root));
        Assert.Equal(Path.Combine(_store.Root, "abc"), _store.Dir("abc"));
        Assert.Equal(Path.Combine(_store.Root, "abc", "metadata.json"), _store.PathOf("abc", ContainerStore.MetadataFile));
    }

    [Fact]
    public void Save_and_load_round_trip_every_field()
    {
        _store.CreateDir("0123456789abcdef");
        var r = new ContainerRecord
        {
            Id = "0123456789abcdef",
            Name = "web",
            Bundle = "/b",
            Rootfs = "/b/rootfs",
            Command = ["sh", "-c", "echo \"hi\" é"],
            Status = ContainerStatus.Exited,
            Pid = 4242,
            PidStartTime = 123456789,
            MonitorPid = 4241,
            Created = T0,
            Started = T0.AddSeconds(1),
            Finished = T0.AddSeconds(2),
            ExitCode = 137,
            OomKilled = true,
            AutoRemove = true,
            Tty = true,
            Hostname = "h",
            Limits = new ContainerLimits { MemoryBytes = 64L << 20, Pids = 100, CpuQuota = 50000, CpuPeriod = 100000 },
            CgroupPaths = new() { ["memory"] = "/sys/fs/cgroup/memory/craterun-x" },
            Annotations = new() { ["a"] = "b" },
            Face = "oci",
        };
        _store.Save(r);
        Assert.True(_store.Exists(r.Id));

        var l = _store.Load(r.Id);
        Assert.Equal(r.Id, l.Id);
        Assert.Equal(r.Name, l.Name);
        Assert.Equal(r.Bundle, l.Bundle);
        Assert.Equal(r.Rootfs, l.Rootfs);
        Assert.Equal(r.Command, l.Command);
        Assert.Equal(r.Status, l.Status);
        Assert.Equal(r.Pid, l.Pid);
        Assert.Equal(r.PidStartTime, l.PidStartTime);
        Assert.Equal(r.MonitorPid, l.MonitorPid);
        Assert.Equal(r.Created, l.Created);
        Assert.Equal(r.Started, l.Started);
        Assert.Equal(r.Finished, l.Finished);
        Assert.Equal(r.ExitCode, l.ExitCode);
        Assert.True(l.OomKilled);
        Assert.True(l.AutoRemove);
        Assert.True(l.Tty);
        Assert.Equal("h", l.Hostname);
        Assert.Equal(64L << 20, l.Limits.MemoryBytes);
        Assert.Equal(100, l.Limits.Pids);
        Assert.Equal(50000, l.Limits.CpuQuota);
        Assert.Equal(100000UL, l.Limits.CpuPeriod);
        Assert.Equal(r.CgroupPaths, l.CgroupPaths);
        Assert.Equal(r.Annotations, l.Annotations);
        Assert.Equal("oci", l.Face);
    }

    [Fact]
    public void Metadata_is_camel_case_json_without_nulls()
    {
        Add("0123456789abcdef");
        var json = File.ReadAllText(_store.PathOf("0123456789abcdef", ContainerStore.MetadataFile));
        Assert.Contains("\"id\": \"0123456789abcdef\"", json);
        Assert.Contains("\"status\": \"created\"", json);
        Assert.DoesNotContain("\"name\"", json);
        Assert.DoesNotContain("\"exitCode\"", json);
    }

    [Fact]
    public void Save_overwrites_atomically_and_leaves_no_temp_files()
    {
        var r = Add("0123456789abcdef");
        for (var i = 0; i < 5; i++)
        {
            r.Pid = 100 + i;
            r.Status = ContainerStatus.Running;
            _store.Save(r);
        }
        Assert.Equal(104, _store.Load(r.Id).Pid);
        Assert.Equal([ContainerStore.MetadataFile], Directory.GetFiles(_store.Dir(r.Id)).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(_store.Root, "*.tmp*", SearchOption.AllDirectories));
    }

    [Fact]
    public void WriteAtomic_replaces_the_whole_file()
    {
        var path = _tmp.Sub("f");
        ContainerStore.WriteAtomic(path, "a long first content"u8.ToArray());
        ContainerStore.WriteAtomic(path, "short"u8.ToArray());
        Assert.Equal("short", File.ReadAllText(path));
        Assert.Equal(["f"], Directory.GetFiles(_tmp.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteAtomic_swaps_the_new_file_in_or_renames_it_leaving_no_temp_file(bool exchange)
    {
        var saved = ContainerStore.ExchangeFiles;
        ContainerStore.ExchangeFiles = exchange ? Linux.StateFiles.Exchange : null;
        try
        {
            var path = _tmp.Sub("metadata.json");
            ContainerStore.WriteAtomic(path, "first, the longer one"u8.ToArray()); // nothing to swap with: renamed
            using var reader = File.OpenRead(path); // a reader of the old file keeps reading the old file
            ContainerStore.WriteAtomic(path, "second"u8.ToArray());
            Assert.Equal("second", File.ReadAllText(path));
            Assert.Equal("first, the longer one", new StreamReader(reader).ReadToEnd()); // a new file, never the old one rewritten
            Assert.Equal(["metadata.json"], Directory.GetFiles(_tmp.Path).Select(Path.GetFileName));
        }
        finally
        {
            ContainerStore.ExchangeFiles = saved;
        }
    }

    [Fact]
    public void WriteAtomic_replaces_a_temp_file_a_crashed_process_of_the_same_pid_left()
    {
        var path = _tmp.Sub("metadata.json");
        File.WriteAllText(path + ".tmp-" + Environment.ProcessId, "left by a process that died before its rename");
        ContainerStore.WriteAtomic(path, "mine"u8.ToArray());
        Assert.Equal("mine", File.ReadAllText(path));
        Assert.Equal(["metadata.json"], Directory.GetFiles(_tmp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteNew_makes_a_new_file_even_where_one_exists()
    {
        var path = _tmp.Sub("hosts");
        ContainerStore.WriteNew(path, "127.0.0.1 localhost and more\n"u8);
        using var reader = File.OpenRead(path);
        ContainerStore.WriteNew(path, "::1 localhost\n"u8);
        Assert.Equal("::1 localhost\n", File.ReadAllText(path)); // the whole content, nothing of the longer one after it
        Assert.Equal("127.0.0.1 localhost and more\n", new StreamReader(reader).ReadToEnd()); // not truncated and rewritten: replaced
    }

    [Fact]
    public void Exchange_swaps_two_files_and_refuses_a_missing_one()
    {
        var a = _tmp.Sub("a");
        var b = _tmp.Sub("b");
        File.WriteAllText(a, "A");
        File.WriteAllText(b, "B");
        Assert.True(Linux.StateFiles.Exchange(a, b));
        Assert.Equal(("B", "A"), (File.ReadAllText(a), File.ReadAllText(b)));
        Assert.False(Linux.StateFiles.Exchange(a, _tmp.Sub("missing")));
        Assert.Equal("B", File.ReadAllText(a));
    }

    [Fact]
    public void A_directory_where_the_file_goes_fails_the_write_with_the_exchange_too()
    {
        var saved = ContainerStore.ExchangeFiles;
        ContainerStore.ExchangeFiles = Linux.StateFiles.Exchange;
        try
        {
            var dir = _tmp.Dir("x");
            var target = Path.Combine(dir, "metadata.json");
            Directory.CreateDirectory(target);
            Assert.ThrowsAny<IOException>(() => ContainerStore.WriteAtomic(target, [1, 2, 3]));
            Assert.True(Directory.Exists(target));
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir), e => e.Contains(".tmp-", StringComparison.Ordinal));
        }
        finally
        {
            ContainerStore.ExchangeFiles = saved;
        }
    }

    [Fact]
    public void Missing_and_corrupt_metadata()
    {
        Assert.Null(_store.TryLoad("0123456789abcdef"));
        Assert.False(_store.Exists("0123456789abcdef"));
        Assert.Contains("no such container", Assert.Throws<NoSuchContainerException>(() => _store.Load("0123456789abcdef")).Message);

        _store.CreateDir("0123456789abcdef");
        Assert.Null(_store.TryLoad("0123456789abcdef"));
        File.WriteAllText(_store.PathOf("0123456789abcdef", ContainerStore.MetadataFile), "{ not json");
        Assert.Contains("corrupt", Assert.Throws<CrateRunException>(() => _store.Load("0123456789abcdef")).Message);
    }

    [Fact]
    public void CreateDir_refuses_a_taken_id_and_is_private()
    {
        var dir = _store.CreateDir("0123456789abcdef");
        Assert.True(Directory.Exists(dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(dir) & (UnixFileMode)0x1FF);
        Assert.Contains("already exists", Assert.Throws<CrateRunException>(() => _store.CreateDir("0123456789abcdef")).Message);
    }

    [Fact]
    public void RemoveDir_removes_everything_and_tolerates_absence()
    {
        Add("0123456789abcdef");
        File.WriteAllText(_store.PathOf("0123456789abcdef", "stdout.log"), "x");
        _store.RemoveDir("0123456789abcdef");
        Assert.False(Directory.Exists(_store.Dir("0123456789abcdef")));
        _store.RemoveDir("0123456789abcdef");
    }

    [Fact]
    public void List_is_sorted_by_creation_and_skips_half_created_and_hidden_entries()
    {
        Assert.Empty(new ContainerStore(_tmp.Sub("nowhere")).List());
        Add("cccccccccccccccc", minutes: 5);
        Add("aaaaaaaaaaaaaaaa", minutes: 10);
        Add("bbbbbbbbbbbbbbbb", minutes: 1);
        _store.CreateDir("dddddddddddddddd"); // no metadata yet
        using (_store.LockRoot()) { }      // creates ROOT/.lock
        Directory.CreateDirectory(Path.Combine(_store.Root, ".trash"));
        Assert.Equal(["bbbbbbbbbbbbbbbb", "cccccccccccccccc", "aaaaaaaaaaaaaaaa"], _store.List().Select(r => r.Id));
    }

    [Fact]
    public void List_shows_a_container_whose_valid_id_starts_with_a_dot()
    {
        Assert.True(ContainerId.IsValidName(".web"));
        Add(".web");
        Assert.Equal(".web", _store.Resolve(".web"));
        Assert.Contains(_store.List(), r => r.Id == ".web");
    }

    [Fact]
    public void Resolve_by_full_id_unique_prefix_and_name()
    {
        Add("0123456789abcdef", "web");
        Add("0129999999999999", "db");
        Add("fedcba9876543210");
        Assert.Equal("0123456789abcdef", _store.Resolve("0123456789abcdef"));
        Assert.Equal("0123456789abcdef", _store.Resolve("01234"));
        Assert.Equal("fedcba9876543210", _store.Resolve("f"));
        Assert.Equal("0123456789abcdef", _store.Resolve("web"));
        Assert.Equal("0129999999999999", _store.Resolve("db"));
    }

    [Fact]
    public void Resolve_prefers_a_name_over_an_id_prefix()
    {
        Add("0123456789abcdef");
        Add("abcdef0123456789", "0123");
        Assert.Equal("abcdef0123456789", _store.Resolve("0123"));
    }

    [Fact]
    public void Resolve_an_ambiguous_prefix_lists_both_ids()
    {
        Add("0123456789abcdef", minutes: 1);
        Add("0129999999999999", minutes: 2);
        var e = Assert.Throws<CrateRunException>(() => _store.Resolve("012"));
        Assert.Contains("ambiguous", e.Message);
        Assert.Contains("0123456789abcdef", e.Message);
        Assert.Contains("0129999999999999", e.Message);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("9")]
    [InlineData("../etc")]
    [InlineData("0123456789abcdef0")]
    public void Resolve_unknown_is_no_such_container(string what)
    {
        Add("0123456789abcdef", "web");
        var e = Assert.Throws<CrateRunException>(() => _store.Resolve(what));
        Assert.Equal($"no such container: {what}", e.Message);
        Assert.Equal(ExitCodes.RuntimeError, e.ExitCode);
    }

    [Fact]
    public void Resolve_empty_is_a_usage_error() =>
        Assert.Throws<UsageException>(() => _store.Resolve(""));

    [Fact]
    public void Locks_of_a_missing_container()
    {
        Assert.Null(_store.TryLock("0123456789abcdef"));
        Assert.Contains("no such container", Assert.Throws<NoSuchContainerException>(() => _store.Lock("0123456789abcdef")).Message);
        Add("0123456789abcdef");
        using var l = _store.Lock("0123456789abcdef");
        Assert.True(File.Exists(_store.PathOf("0123456789abcdef", "lock")));
    }

    [Fact]
    public void FileLock_times_out_while_another_holder_has_it()
    {
        var path = _tmp.Sub("lock");
        using var held = FileLock.Acquire(path);
        var sw = Stopwatch.StartNew();
        Exception? error = null;
        var t = new Thread(() =>
        {
            try { FileLock.Acquire(path, timeoutMs: 150).Dispose(); }
            catch (Exception e) { error = e; }
        });
        t.Start();
        Assert.True(t.Join(TimeSpan.FromSeconds(10)));
        Assert.IsType<IOException>(error, exactMatch: false);
        Assert.True(sw.ElapsedMilliseconds >= 140, $"gave up after {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void FileLock_second_acquirer_waits_until_release()
    {
        var path = _tmp.Sub("lock");
        var held = FileLock.Acquire(path);
        using var acquired = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var l = FileLock.Acquire(path, timeoutMs: 10_000);
                acquired.Set();
                release.Wait(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        Assert.False(acquired.Wait(300), "the second acquirer got the lock while it was held");
        held.Dispose();
        Assert.True(acquired.Wait(TimeSpan.FromSeconds(5)), "the second acquirer did not get the lock after release");

        // and now it is the one holding it
        Assert.Throws<IOException>(() => FileLock.Acquire(path, timeoutMs: 50));
        release.Set();
        Assert.True(t.Join(TimeSpan.FromSeconds(10)));
        Assert.Null(error);
        FileLock.Acquire(path, timeoutMs: 1000).Dispose();
    }

    [Fact]
    public void Root_lock_excludes_a_second_root_lock_of_another_store_object()
    {
        using var l = _store.LockRoot();
        Assert.True(File.Exists(Path.Combine(_store.Root, ".lock")));
        var other = new ContainerStore(_store.Root);
        var t = Task.Run(() => { using var l2 = FileLock.Acquire(Path.Combine(other.Root, ".lock"), timeoutMs: 100); });
        Assert.ThrowsAny<IOException>(() => t.GetAwaiter().GetResult());
    }
}

public sealed class StateRootTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void An_empty_root_is_a_usage_error_not_a_crash() =>
        Assert.Contains("must not be empty", Assert.Throws<UsageException>(() => new ContainerStore("")).Message);

    [Fact]
    public void A_root_that_is_a_file_fails_at_once_naming_it()
    {
        var file = _tmp.Sub("a-file");
        File.WriteAllText(file, "x");
        var e = Assert.Throws<CrateRunException>(() => new ContainerStore(file).LockRoot().Dispose());
        Assert.Contains(file, e.Message);
        Assert.Contains("not a directory", e.Message);
    }

    [Fact]
    public void A_held_lock_is_waited_for_and_times_out_then()
    {
        var path = _tmp.Sub("lock");
        using var held = FileLock.Acquire(path);
        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<IOException>(() => FileLock.Acquire(path, timeoutMs: 300).Dispose());
        Assert.True(clock.ElapsedMilliseconds >= 250, $"gave up after {clock.ElapsedMilliseconds} ms: a held lock must be waited for");
    }

    [Fact]
    public void A_lock_that_cannot_be_made_fails_at_once()
    {
        // no such directory stands for EROFS/EPERM/ENOSPC here: an error other than "held" is not retried
        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<IOException>(() => FileLock.Acquire(_tmp.Sub("missing", "lock"), timeoutMs: 10_000).Dispose());
        Assert.True(clock.ElapsedMilliseconds < 2000);
    }

    [Fact]
    public void A_failed_atomic_write_leaves_no_temp_file()
    {
        var dir = _tmp.Dir("d");
        var target = Path.Combine(dir, "metadata.json");
        Directory.CreateDirectory(target); // the rename onto a directory fails
        Assert.ThrowsAny<IOException>(() => ContainerStore.WriteAtomic(target, [1, 2, 3]));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir), e => e.Contains(".tmp-", StringComparison.Ordinal));
    }

    [Fact]
    public void A_directory_without_metadata_is_a_leftover_that_rm_may_take()
    {
        var store = new ContainerStore(_tmp.Sub("root"));
        Directory.CreateDirectory(store.Dir("0123456789abcdef"));
        File.WriteAllText(store.PathOf("0123456789abcdef", "metadata.json.tmp-42"), "{");
        Assert.True(store.IsLeftover("0123456789abcdef"));
        store.CreateDir("fedcba9876543210");
        store.Save(new ContainerRecord { Id = "fedcba9876543210" });
        Assert.False(store.IsLeftover("fedcba9876543210"));
        Assert.False(store.IsLeftover("0123")); // only a full id
    }
}
