namespace CrateRun.Cli;

/// <summary>The runc-compatible face (craterun-oci): see the OCI runtime issue.</summary>
public static class OciCli
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("craterun-oci: not implemented yet");
        return 1;
    }
}
