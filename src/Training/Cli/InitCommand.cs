using System.CommandLine;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using TorchSharp;

namespace CaptionService.Training.Cli;

/// <summary><c>captioner init --preset NAME --out DIR [--seed S]</c>: a randomly initialized checkpoint.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"One of {string.Join(", ", Presets.All.Keys)}", Required = true };
        var outDir = new Option<DirectoryInfo>("--out") { Description = "Checkpoint directory to write", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed for the random weights", DefaultValueFactory = _ => 0 };
        var command = new Command("init", "Write a randomly initialized checkpoint") { preset, outDir, seed };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var config = Presets.Get(result.GetValue(preset)!);
            torch.manual_seed(result.GetValue(seed));
            using var model = new Captioner(config);
            var dir = result.GetValue(outDir)!.FullName;
            Checkpoint.Save(model, dir);
            output.WriteLine($"wrote {dir} ({model.CountParameters().Total} parameters)");
        });
        return command;
    }
}
