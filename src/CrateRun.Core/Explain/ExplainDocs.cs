namespace CrateRun.Core.Explain;

/// <summary>Each topic's page in docs/ (a unit test checks that every page exists).</summary>
public static class ExplainDocs
{
    public static readonly IReadOnlyDictionary<ExplainTopic, string> Pages = new Dictionary<ExplainTopic, string>
    {
        [ExplainTopic.Namespaces] = "docs/namespaces.md",
        [ExplainTopic.Rootfs] = "docs/rootfs-and-pivot-root.md",
        [ExplainTopic.ProcAndDev] = "docs/proc-and-dev.md",
        [ExplainTopic.Cgroups] = "docs/cgroups.md",
        [ExplainTopic.Capabilities] = "docs/capabilities.md",
        [ExplainTopic.Seccomp] = "docs/seccomp.md",
        [ExplainTopic.UserNamespaces] = "docs/user-namespaces.md",
        [ExplainTopic.Process] = "docs/the-process.md",
        [ExplainTopic.Monitor] = "docs/the-monitor.md",
        [ExplainTopic.OciLifecycle] = "docs/oci-lifecycle.md",
    };

    public static string PageOf(ExplainTopic topic) => Pages[topic];
}
