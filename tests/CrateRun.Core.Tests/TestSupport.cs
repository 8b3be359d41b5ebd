namespace CrateRun.Core.Tests;

/// <summary>A fresh directory under the temp dir, removed with everything in it on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("craterun-test-").FullName;

    public string Sub(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Creates the directory (and parents) and returns its path.</summary>
    public string Dir(params string[] parts) => Directory.CreateDirectory(Sub(parts)).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

internal static class Repo
{
    /// <summary>The repository root: the first ancestor of the test binaries that holds CrateRun.slnx.</summary>
    public static string Root
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (System.IO.File.Exists(System.IO.Path.Combine(d.FullName, "CrateRun.slnx"))) return d.FullName;
            throw new InvalidOperationException("CrateRun.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    public static string File(string relative) => System.IO.Path.Combine(Root, relative);
}
