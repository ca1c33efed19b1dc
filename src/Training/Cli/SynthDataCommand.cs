using System.CommandLine;
using CaptionService.Training.Data.Synthetic;

namespace CaptionService.Training.Cli;

/// <summary><c>captioner synth-data --out DIR --images N --seed S [--size 96]</c>: the coloured-shapes dataset.</summary>
internal static class SynthDataCommand
{
    public static Command Create()
    {
        var outDir = new Option<DirectoryInfo>("--out") { Description = "Folder to write images/ and captions_{train,val,test}.json into", Required = true };
        var images = new Option<int>("--images") { Description = "Number of images (split 80/10/10)", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed: the same seed writes the same files", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size") { Description = "Image side in pixels (16 to 1024)", DefaultValueFactory = _ => SynthData.DefaultImageSize };
        var command = new Command("synth-data", "Write a synthetic dataset of coloured shapes with COCO-format captions") { outDir, images, seed, size };
        command.SetAction(result =>
        {
            int n = result.GetValue(images), side = result.GetValue(size);
            if (n < 1) throw new CliException($"--images must be at least 1 (got {n})");
            if (side is < 16 or > 1024) throw new CliException($"--size must be between 16 and 1024 (got {side})");
            var summary = SynthData.Generate(result.GetValue(outDir)!.FullName, n, result.GetValue(seed), side);
            var output = result.InvocationConfiguration.Output;
            foreach (var split in SynthData.Splits)
                output.WriteLine($"{split}: {summary.Images[split]} images -> {summary.Files[split]}");
            output.WriteLine($"captions: {summary.Captions}");
        });
        return command;
    }
}
