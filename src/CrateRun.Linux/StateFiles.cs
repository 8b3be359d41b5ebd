namespace CrateRun.Linux;

/// <summary>What the state store (Core's ContainerStore) needs of the kernel beyond the BCL; set as its hooks at start.</summary>
public static class StateFiles
{
    /// <summary>
    /// Swaps the names of two existing files in one step (renameat2 with RENAME_EXCHANGE); false where it
    /// cannot (either file missing, a filesystem without it), and the caller renames instead.
    /// </summary>
    public static bool Exchange(string a, string b) =>
        Interop.Sys.renameat2(Interop.Images.AT_FDCWD, a, Interop.Images.AT_FDCWD, b, Interop.Sys.RENAME_EXCHANGE) == 0;
}
