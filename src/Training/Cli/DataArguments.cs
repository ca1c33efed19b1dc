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
        output.WriteLine($"{file.FullName}: {dataset.Images.Count} images, {dataset.Report}");
        return dataset;
    }
}
