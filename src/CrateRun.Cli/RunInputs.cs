using CrateRun.Core;
using CrateRun.Core.Docker;

namespace CrateRun.Cli;

/// <summary>The files run and create read for their flags (--env-file, --label-file); the parsing is Core's.</summary>
public static class RunInputs
{
    public static List<string> EnvFiles(IEnumerable<string> paths) =>
        [.. paths.SelectMany(path => KeyValueFiles.ParseEnvFile(Read(path, "--env-file"), path, Environment.GetEnvironmentVariable))];

    public static Dictionary<string, string> Labels(IEnumerable<string> files, IEnumerable<string> flags) =>
        KeyValueFiles.ParseLabels(files.SelectMany(path => KeyValueFiles.ParseLabelFile(Read(path, "--label-file"))), flags);

    private static string Read(string path, string flag)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"invalid {flag} {path}: {(e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message)}");
        }
    }
}
