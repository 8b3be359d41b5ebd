namespace CrateRun.Core.Tests;

public class IdsTests
{
    [Fact]
    public void New_ids_are_16_lowercase_hex_and_differ()
    {
        var ids = Enumerable.Range(0, 50).Select(_ => ContainerId.New()).ToList();
        Assert.All(ids, id =>
        {
            Assert.Equal(ContainerId.Length, id.Length);
            Assert.True(ContainerId.IsFullId(id), id);
            Assert.True(ContainerId.IsValidName(id), id);
        });
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("0123456789abcdef", true)]
    [InlineData("0123456789ABCDEF", false)]
    [InlineData("0123456789abcde", false)]
    [InlineData("0123456789abcdef0", false)]
    [InlineData("0123456789abcdeg", false)]
    [InlineData("", false)]
    public void IsFullId(string s, bool expected) => Assert.Equal(expected, ContainerId.IsFullId(s));

    [Theory]
    [InlineData("web", true)]
    [InlineData("my_app-1.2+build", true)]
    [InlineData("A", true)]
    [InlineData(".hidden", true)]
    [InlineData("", false)]
    [InlineData(".", false)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("../etc", false)]
    [InlineData("a b", false)]
    [InlineData("a:b", false)]
    [InlineData("é", false)]
    public void IsValidName(string s, bool expected) => Assert.Equal(expected, ContainerId.IsValidName(s));

    [Fact]
    public void IsValidName_limits_the_length_to_128()
    {
        Assert.True(ContainerId.IsValidName(new string('a', 128)));
        Assert.False(ContainerId.IsValidName(new string('a', 129)));
    }

    [Theory]
    [InlineData("0123456789abcdef", "0123456789ab")]
    [InlineData("0123456789ab", "0123456789ab")]
    [InlineData("abc", "abc")]
    public void Short_is_the_first_12_characters(string id, string expected) => Assert.Equal(expected, ContainerId.Short(id));

    [Theory]
    [InlineData("web")]
    [InlineData("web-1.example.org")]
    [InlineData("A1")]
    [InlineData("0123456789ab")]
    public void Rfc1123_host_names_are_accepted(string name) => Hostnames.CheckRfc1123(name, "--hostname");

    [Theory]
    [InlineData("a b", "' '")]
    [InlineData("a/b", "'/'")]
    [InlineData("-ab", "starts or ends with '-'")]
    [InlineData("ab-", "starts or ends with '-'")]
    [InlineData("a..b", "empty label")]
    [InlineData("a_b", "'_'")]
    [InlineData("", "empty")]
    public void Other_host_names_are_refused_naming_the_problem(string name, string problem)
    {
        var e = Assert.Throws<UsageException>(() => Hostnames.CheckRfc1123(name, "--hostname"));
        Assert.Contains("--hostname", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Host_names_may_have_64_characters_and_labels_63()
    {
        Hostnames.CheckRfc1123(new string('a', 63), "--hostname");
        Hostnames.CheckRfc1123(new string('a', 31) + "." + new string('b', 32), "--hostname");
        Assert.Contains("longer than 63", Assert.Throws<UsageException>(() => Hostnames.CheckRfc1123(new string('a', 64), "--hostname")).Message);
        Assert.Contains("at most 64", Assert.Throws<UsageException>(() => Hostnames.CheckRfc1123(new string('a', 32) + "." + new string('b', 32), "--hostname")).Message);
    }
}
