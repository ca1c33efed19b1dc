using System.CommandLine;
using CaptionService.Training.Data;

namespace CaptionService.Training.Cli;

/// <summary>How the commands that read annotation files read them.</summary>
internal sealed class DataArguments
{
    public Option<DirectoryInfo?> ImageRoot { get; } = new("--image-root") { Description = "Folder the annotation file's image names are relative to" };
    public Option<string?> Format { get; } = new("--format") { Description = $"Annotation format when it cannot be told from the file: {string.Join(", ", DatasetReader.FormatNames)}" };
    public Option<bool> FailOnMissing { get; } = new("--fail-on-missing-images") { Description = "Stop when an image file is missing (default: count, report and skip)" };
    public Option<bool> SkipMalformed { get; } = new("--skip-malformed-lines") { Description = "Count and skip malformed records (default: stop at the first, naming file and line)" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { ImageRoot, Format, FailOnMissing, SkipMalformed })
            command.Options.Add(option);
    }

    /// <summary>Reads <paramref name="file"/> and says on <paramref name="output"/> what was found.</summary>
    public CaptionDataset Read(ParseResult result, FileInfo file, TextWriter output)
    {
        var options = new DatasetReadOptions(result.GetValue(ImageRoot)?.FullName, result.GetValue(FailOnMissing),
            result.GetValue(Format) is string format ? DatasetReader.ParseFormat(format) : null, result.GetValue(SkipMalformed));
        var dataset = DatasetReader.Read(file.FullName, options);
        output.WriteLine($"{file.FullName}: {dataset.Images.Count} images, {dataset.Report}; images from {dataset.Report.ImageRoot}");
        return dataset;
    }
}

/// <summary>How a file without splits of its own is split by image (<see cref="DatasetSplits"/>), for train and evaluate.</summary>
internal sealed class SplitArguments
{
    public Option<double?> ValFraction { get; } = new("--val-fraction") { Description = "Validation share of the images of a file without splits of its own (default 0.05)" };
    public Option<double?> TestFraction { get; } = new("--test-fraction") { Description = "Test share of the images of a file without splits of its own, never trained on (default 0.05)" };
    public Option<int?> Seed { get; } = new("--split-seed") { Description = "Seed of the split by image (default 0)" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { ValFraction, TestFraction, Seed })
            command.Options.Add(option);
    }

    /// <summary>True when any of the options was given.</summary>
    public bool Given(ParseResult result) =>
        result.GetValue(ValFraction) is not null || result.GetValue(TestFraction) is not null || result.GetValue(Seed) is not null;

    /// <summary>The given options over <paramref name="defaults"/>.</summary>
    public SplitOptions Resolve(ParseResult result, SplitOptions defaults) => new(
        result.GetValue(ValFraction) ?? defaults.ValFraction,
        result.GetValue(TestFraction) ?? defaults.TestFraction,
        result.GetValue(Seed) ?? defaults.Seed);
}
