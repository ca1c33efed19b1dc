using System.Text.Json;
using System.Text.Json.Serialization;
using CaptionService.Model;

namespace CaptionService.Training.Training;

/// <summary>
/// Where a run stands, saved beside the last checkpoint (<c>training_state.json</c>) with the
/// optimizer (<c>optimizer.bin</c>) and torch's RNG (<c>rng.bin</c>): enough to resume exactly.
/// The scheduler is rebuilt and stepped <see cref="GlobalStep"/> times; the data order and every
/// augmentation follow from (seed, epoch, position).
/// </summary>
public sealed record TrainingState
{
    public const string FileName = "training_state.json";

    public required TrainOptions Options { get; init; }
    /// <summary>The epoch to run next, and how many of its batches are already done.</summary>
    public int Epoch { get; init; }
    public int BatchInEpoch { get; init; }
    public long GlobalStep { get; init; }
    /// <summary>The interrupted epoch's token-weighted loss so far (sum of loss x tokens, and tokens),
    /// so that its train loss still covers the whole epoch after a resume.</summary>
    public double EpochLossSum { get; init; }
    public long EpochTokens { get; init; }
    public double BestValLoss { get; init; } = double.PositiveInfinity;
    public List<EpochMetrics> History { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Save(string dir) => File.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    public static TrainingState Load(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no training state here; --resume takes a training output folder's 'last' checkpoint", path);
        try
        {
            return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} (line {e.LineNumber + 1}): {e.Message}", e);
        }
    }
}
