using CaptionService.Training.Cli;

namespace CaptionService.Training.Tests;

/// <summary>Runs <c>captioner</c> in-process and reads its "name: value" lines.</summary>
internal static class CliHarness
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(CliRunner.CreateRoot(), args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>"name: value" lines as a dictionary (the first of each name).</summary>
    public static Dictionary<string, string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ", 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());
}
