using CaptionService.Hub;
using System.CommandLine;

namespace CaptionService.Training.Cli;

internal static class CliRunner
{
    /// <summary>Every command of <c>captioner</c>.</summary>
    public static RootCommand CreateRoot() => new("captioner: the CaptionService model tool (inspect, init, import, caption, train, evaluate, bench)")
    {
        InspectCommand.Create(),
        InitCommand.Create(),
        ImportCommand.Create(),
        CaptionCommand.Create(),
        TrainCommand.Create(),
        EvaluateCommand.Create(),
        ScoreCommand.Create(),
        SynthDataCommand.Create(),
        BenchCommand.Create(),
    };

    /// <summary>Parses and runs; a user's mistake prints one line and exits 2, never a stack trace.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        error ??= Console.Error;
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                Output = output ?? Console.Out,
                Error = error,
            });
        }
        catch (Exception e) when (e is CliException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                                       or HubException or FormatException)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
