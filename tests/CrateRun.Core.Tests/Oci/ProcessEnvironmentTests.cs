using CrateRun.Core.Oci;

namespace CrateRun.Core.Tests.Oci;

/// <summary>process.env with a variable given twice, as runc hands it to the program (its os.Setenv loop).</summary>
public sealed class ProcessEnvironmentTests
{
    [Fact]
    public void A_repeated_variable_keeps_its_first_place_and_its_last_value()
    {
        Assert.Equal(["PATH=/bin", "FOO=3", "BAR=a"], ProcessEnvironment.WithoutDuplicates(["PATH=/bin", "FOO=1", "BAR=a", "FOO=2", "FOO=3"]));
    }

    [Fact]
    public void Values_with_equals_signs_and_empty_values_are_kept_whole()
    {
        Assert.Equal(["A=b=c", "E="], ProcessEnvironment.WithoutDuplicates(["A=x", "E=1", "A=b=c", "E="]));
    }

    [Fact]
    public void Keys_differ_by_case_and_an_entry_without_equals_is_its_own_key()
    {
        Assert.Equal(["foo=1", "FOO=2", "BARE"], ProcessEnvironment.WithoutDuplicates(["foo=1", "FOO=2", "BARE", "BARE"]));
        Assert.Empty(ProcessEnvironment.WithoutDuplicates([]));
    }
}
