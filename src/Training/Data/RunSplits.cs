using System.Text.Json;
using System.Text.Json.Serialization;

namespace CaptionService.Training.Data;

/// <summary>The images of one split of a run: counts, ids and files.</summary>
public sealed record SplitRecord(int Images, int Captions, IReadOnlyList<string> Ids, IReadOnlyList<string> Files)
{
    public static SplitRecord Of(IReadOnlyList<CaptionedImage> images) =>
        new(images.Count, images.Sum(i => i.Captions.Count), images.Select(i => i.ImageId).ToList(), images.Select(i => i.ImagePath).ToList());
}

/// <summary>
/// A training run's splits, written to <c>splits.json</c> in its output folder: which annotation files, how
/// they were split, and the image ids and files of train, val and test. <c>evaluate</c> finds it beside a
/// checkpoint of the run, evaluates that file's recorded test split by default, and refuses images the run
/// trained on.
/// </summary>
public sealed record RunSplits
{
    public const string FileName = "splits.json";

    /// <summary>The training annotations file (full path).</summary>
    public required string Data { get; init; }
    /// <summary>The separate validation file, if one was given.</summary>
    public string? ValData { get; init; }
    /// <summary>The training file had splits of its own (so <see cref="Options"/> played no part).</summary>
    public bool OwnSplits { get; init; }
    public required SplitOptions Options { get; init; }
    public required SplitRecord Train { get; init; }
    public required SplitRecord Val { get; init; }
    public required SplitRecord Test { get; init; }

    public static RunSplits Of(string data, string? valData, SplitPlan plan, SplitOptions options) => new()
    {
        Data = Path.GetFullPath(data),
        ValData = valData is null ? null : Path.GetFullPath(valData),
        OwnSplits = plan.OwnSplits,
        Options = options,
        Train = SplitRecord.Of(plan.Train),
        Val = SplitRecord.Of(plan.Val),
        Test = SplitRecord.Of(plan.Test),
    };

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public void Save(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    public static RunSplits Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RunSplits>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} (line {e.LineNumber + 1}): not a run's splits file: {e.Message}", e);
        }
    }

    /// <summary>The splits of the run a checkpoint belongs to: <c>splits.json</c> in the checkpoint folder or the
    /// folder above it (a run's <c>best/</c> and <c>last/</c>); null when there is none.</summary>
    public static (RunSplits Splits, string Path)? Find(string checkpointDir)
    {
        foreach (var dir in new[] { checkpointDir, Path.Combine(checkpointDir, "..") })
        {
            var path = Path.GetFullPath(Path.Combine(dir, FileName));
            if (File.Exists(path)) return (Load(path), path);
        }
        return null;
    }

    /// <summary>True when <paramref name="dataFile"/> is the run's training file (same full path, or the same
    /// file name: a dataset moved to another folder).</summary>
    public bool IsTrainingFile(string dataFile) =>
        Path.GetFullPath(dataFile) == Data || Path.GetFileName(dataFile) == Path.GetFileName(Data);

    /// <summary>The images among <paramref name="images"/> (read from <paramref name="dataFile"/>) that the run trained
    /// on: the same image file, or the same image id in the same annotations file.</summary>
    public IReadOnlyList<CaptionedImage> TrainedOn(string dataFile, IEnumerable<CaptionedImage> images)
    {
        var files = Train.Files.ToHashSet(StringComparer.Ordinal);
        var ids = IsTrainingFile(dataFile) ? Train.Ids.ToHashSet(StringComparer.Ordinal) : [];
        return images.Where(i => files.Contains(i.ImagePath) || ids.Contains(i.ImageId)).ToList();
    }
}
