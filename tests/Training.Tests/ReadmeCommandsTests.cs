using CaptionService.Training.Cli;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

/// <summary>
/// The `captioner` commands in README.md and docs/model.md cannot drift: every one parses with the real
/// command line (its command and options exist, its values convert), and the README's quick ones
/// (inspect, init, caption with a local checkpoint) run, in a temporary folder, and succeed.
/// </summary>
public sealed class ReadmeCommandsTests : IDisposable
{
    private static readonly string Root = FindRoot();
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-readme-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    public static TheoryData<string, string> Commands()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in new[] { "README.md", "docs/model.md" })
            foreach (var line in CaptionerLines(File.ReadAllText(Path.Combine(Root, file))))
                data.Add(file, line);
        return data;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_captioner_command_in_the_docs_parses(string file, string line)
    {
        var words = Words(line);
        var result = CliRunner.CreateRoot().Parse(words);
        Assert.True(result.Errors.Count == 0, $"{file}: {line}\n{string.Join('\n', result.Errors.Select(e => e.Message))}");
        // A command that takes files would take a misspelt option as one more file: every --name must be an option of its command.
        var options = result.CommandResult.Command.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
        var unknown = words.Where(w => w.StartsWith("--", StringComparison.Ordinal) && !options.Contains(w)).ToList();
        Assert.True(unknown.Count == 0, $"{file}: {line}\nnot options of this command: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void The_docs_name_enough_commands_to_check()
    {
        Assert.True(Commands().Count() >= 20, $"only {Commands().Count()} captioner lines found");
    }

    [Fact]
    public void The_README_s_quick_captioner_commands_run()
    {
        var quick = CaptionerLines(File.ReadAllText(Path.Combine(Root, "README.md")))
            .Select(Words).Where(w => w[0] is "inspect" or "init" or "caption" && !w.Any(a => a.StartsWith("hf:", StringComparison.Ordinal)))
            .ToList();
        Assert.True(quick.Count >= 3, $"only {quick.Count} quick commands in README.md");
        foreach (var words in quick)
        {
            // Relative paths go into the temporary folder; the pictures named are made there.
            var args = words.Select(Local).ToArray();
            if (words[0] != "init") args = [.. args, "--device", "cpu"]; // init makes weights, it runs nothing
            var (code, output, error) = Run(args);
            Assert.True(code == 0, $"captioner {string.Join(' ', words)} exited {code}:\n{output}\n{error}");
        }
    }

    private string Local(string word)
    {
        if (word.StartsWith('-') || !(word.Contains('/') || word.EndsWith(".jpg", StringComparison.Ordinal) || word.EndsWith(".png", StringComparison.Ordinal)))
            return word;
        var path = Path.Combine(dir, word);
        if ((word.EndsWith(".jpg", StringComparison.Ordinal) || word.EndsWith(".png", StringComparison.Ordinal)) && !File.Exists(path))
        {
            using var image = new Image<Rgb24>(40, 30, new Rgb24(200, 30, 30));
            image.Save(path);
        }
        return path;
    }

    /// <summary>The words after "captioner", without the trailing comment.</summary>
    private static string[] Words(string line) =>
        line.Split(" #")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];

    /// <summary>Lines of ```bash blocks that start with "captioner ", continuation lines joined.</summary>
    private static IEnumerable<string> CaptionerLines(string markdown)
    {
        bool inside = false;
        string pending = "";
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal)) { inside = !inside && line == "```bash"; continue; }
            if (!inside) continue;
            if (line.EndsWith('\\')) { pending += line[..^1] + " "; continue; }
            var whole = pending + line;
            pending = "";
            if (whole.StartsWith("captioner ", StringComparison.Ordinal)) yield return whole;
        }
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "CaptionService.sln"))) return d.FullName;
        throw new InvalidOperationException($"No CaptionService.sln above {AppContext.BaseDirectory}");
    }
}
