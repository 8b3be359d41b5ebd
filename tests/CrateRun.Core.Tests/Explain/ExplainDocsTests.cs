using System.Text.RegularExpressions;
using CrateRun.Core.Explain;

namespace CrateRun.Core.Tests.Explain;

/// <summary>Every docs page a step names exists, and each page has a command to try and what to look for.</summary>
public class ExplainDocsTests
{
    [Fact]
    public void Every_topic_has_a_page()
    {
        foreach (var topic in Enum.GetValues<ExplainTopic>())
            Assert.True(ExplainDocs.Pages.ContainsKey(topic), $"{topic} has no docs page");
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void The_page_exists_with_a_command_to_try_and_what_to_look_for(string page)
    {
        var path = Repo.File(page);
        Assert.True(File.Exists(path), $"{page} does not exist");
        var text = File.ReadAllText(path);
        Assert.Matches(@"(?m)^# \S", text);
        var tryIt = Regex.Match(text, @"## Try it\s*```bash\n(.+?)```", RegexOptions.Singleline);
        Assert.True(tryIt.Success, $"{page}: no '## Try it' section with a bash block");
        Assert.Contains("craterun", tryIt.Groups[1].Value);
        Assert.Contains("--explain", tryIt.Groups[1].Value);
        Assert.Matches(@"## What to look for\s*\n\s*- \S", text);
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void The_index_links_the_page(string page) =>
        Assert.Contains($"({Path.GetFileName(page)})", File.ReadAllText(Repo.File("docs/README.md")));

    [Fact]
    public void Links_between_pages_lead_to_pages_that_exist()
    {
        foreach (var file in Directory.GetFiles(Repo.File("docs"), "*.md"))
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"\]\(([a-z0-9-]+\.md)\)"))
                Assert.True(File.Exists(Path.Combine(Repo.File("docs"), m.Groups[1].Value)), $"{Path.GetFileName(file)} links {m.Groups[1].Value}, which does not exist");
    }

    [Fact]
    public void The_code_that_does_a_step_links_its_page()
    {
        // each comment "docs/NAME.md" in the code names a page that exists, and every page is linked from some code
        var linked = new HashSet<string>();
        foreach (var file in Directory.EnumerateFiles(Repo.File("src"), "*.*", SearchOption.AllDirectories).Where(f => (f.EndsWith(".cs") || f.EndsWith(".c") || f.EndsWith(".h")) && !f.EndsWith("ExplainDocs.cs")))
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"docs/([a-z0-9-]+\.md)"))
            {
                Assert.True(File.Exists(Repo.File("docs/" + m.Groups[1].Value)), $"{file} names docs/{m.Groups[1].Value}, which does not exist");
                linked.Add("docs/" + m.Groups[1].Value);
            }
        foreach (var page in ExplainDocs.Pages.Values)
            Assert.Contains(page, linked);
    }

    [Fact]
    public void The_readme_and_hello_world_point_at_explain()
    {
        Assert.Contains("craterun run --rm --explain hello-world", File.ReadAllText(Repo.File("README.md")));
        Assert.Contains("craterun run --rm --explain hello-world", File.ReadAllText(Repo.File("src/CrateRun.Cli/HelloWorld/hello.c")));
    }

    public static TheoryData<string> Pages() => [.. ExplainDocs.Pages.Values.Distinct()];
}
