using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: TestCollectionOrderer("CrateRun.Integration.Tests.Infrastructure.LeakCheckLastOrderer", "CrateRun.Integration.Tests")]

namespace CrateRun.Integration.Tests.Infrastructure;

/// <summary>Collections run one after the other, by name, with the leak check last of all.</summary>
public sealed class LeakCheckLastOrderer : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections
            .OrderBy(c => c.DisplayName == LeakCollection.Name ? 1 : 0)
            .ThenBy(c => c.DisplayName, StringComparer.Ordinal);
}

/// <summary>The final check: runs after every other collection (and after their fixtures are disposed).</summary>
[CollectionDefinition(Name)]
public sealed class LeakCollection
{
    public const string Name = "ZZ Leak check (runs last)";
}
