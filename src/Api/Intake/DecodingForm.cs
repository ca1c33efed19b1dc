using System.Globalization;
using System.Text.Json.Serialization;
using CaptionService.Model;

namespace CaptionService.Api.Intake;

/// <summary>
/// The decoding options a request asked for, laid over the checkpoint's defaults and checked.
/// Every problem is reported under the form field it concerns.
/// </summary>
public static class DecodingForm
{
    /// <summary>Beam search keeps num_beams sequences in memory per image: a service-wide bound.</summary>
    public const int MaxBeams = 16;

    /// <summary>Sampling seeds drawn by the service stay below 2^53 so that JSON clients read them exactly.</summary>
    private const long MaxDrawnSeed = 1L << 53;

    /// <summary>Parses <paramref name="form"/> over <paramref name="defaults"/>. On success the options
    /// are valid for the generator and within the service's <paramref name="limits"/>, and a sampling
    /// request without a seed has one drawn for it.</summary>
    public static DecodingOptions? Parse(DecodingFields form, DecodingOptions defaults, DecodingLimits limits, out Dictionary<string, string[]> errors)
    {
        var problems = new Dictionary<string, List<string>>();
        void Fail(string field, string message)
        {
            if (!problems.TryGetValue(field, out var list)) problems[field] = list = [];
            list.Add(message);
        }

        var o = defaults;
        if (Given(form.Decoding) is { } strategy)
        {
            switch (strategy.ToLowerInvariant())
            {
                case "greedy": o = o with { Strategy = DecodingStrategy.Greedy }; break;
                case "sample": o = o with { Strategy = DecodingStrategy.Sample }; break;
                case "beam": o = o with { Strategy = DecodingStrategy.Beam }; break;
                default: Fail(FormFields.Decoding, $"decoding must be one of greedy, sample, beam (got '{strategy}')"); break;
            }
        }

        if (Int(form.MaxTokens, FormFields.MaxTokens) is int maxTokens) o = o with { MaxNewTokens = maxTokens };
        if (Double(form.Temperature, FormFields.Temperature) is double temperature) o = o with { Temperature = temperature };
        if (Int(form.TopK, FormFields.TopK) is int topK) o = o with { TopK = topK };
        if (Double(form.TopP, FormFields.TopP) is double topP) o = o with { TopP = topP };
        if (Int(form.NumBeams, FormFields.NumBeams) is int beams) o = o with { NumBeams = beams };
        if (Double(form.LengthPenalty, FormFields.LengthPenalty) is double penalty) o = o with { LengthPenalty = penalty };
        if (Int(form.NoRepeatNgramSize, FormFields.NoRepeatNgramSize) is int ngram) o = o with { NoRepeatNgramSize = ngram };
        if (Given(form.Seed) is { } seedText)
        {
            if (long.TryParse(seedText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)) o = o with { Seed = seed };
            else Fail(FormFields.Seed, $"seed must be an integer (got '{seedText}')");
        }

        // The model's own checks; their messages start with the option's name. Only fields that
        // parsed are checked again (a bad number is reported once, as a bad number).
        foreach (var (field, text) in o.Validate().Select(ToField))
            if (!problems.ContainsKey(field)) Fail(field, text);
        int maxBeams = Math.Min(MaxBeams, limits.MaxBatchSize);
        if ((o.Strategy == DecodingStrategy.Beam || Given(form.NumBeams) is not null) && o.NumBeams > maxBeams && !problems.ContainsKey(FormFields.NumBeams))
            Fail(FormFields.NumBeams, $"num_beams must be at most {maxBeams} here (got {o.NumBeams})");
        if (o.MaxNewTokens > limits.MaxTokens && !problems.ContainsKey(FormFields.MaxTokens))
        {
            if (Given(form.MaxTokens) is null) o = o with { MaxNewTokens = limits.MaxTokens }; // the checkpoint's default, capped
            else Fail(FormFields.MaxTokens, $"max_tokens must be at most {limits.MaxTokens} here (got {o.MaxNewTokens})");
        }

        errors = problems.ToDictionary(p => p.Key, p => p.Value.ToArray());
        if (errors.Count > 0) return null;

        if (o.Strategy == DecodingStrategy.Sample && o.Seed is null)
            o = o with { Seed = Random.Shared.NextInt64(MaxDrawnSeed) };
        return o;

        int? Int(string? text, string field)
        {
            if (Given(text) is not { } s) return null;
            if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) return value;
            Fail(field, long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                ? $"{field} is out of range (got {s})"
                : $"{field} must be an integer (got '{s}')");
            return null;
        }

        double? Double(string? text, string field)
        {
            if (Given(text) is not { } s) return null;
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)) return value;
            Fail(field, $"{field} must be a finite number (got '{s}')");
            return null;
        }
    }

    private static string? Given(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>A problem with the options as the model words it ("max_new_tokens must be ...") -> the form field it is about and its message.</summary>
    private static (string Field, string Message) ToField(string problem) => problem.Split(' ', 2)[0] is "max_new_tokens"
        ? (FormFields.MaxTokens, FormFields.MaxTokens + problem["max_new_tokens".Length..])
        : (problem.Split(' ', 2)[0], problem);

    /// <summary>Problems the model or the scheduler found with the options (<see cref="Model.Generation.DecodingOptionsException"/>), by form field.</summary>
    public static Dictionary<string, string[]> FieldErrors(IEnumerable<string> problems) =>
        problems.Select(ToField).GroupBy(p => p.Field).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray());
}

/// <summary>What this service allows: tokens per caption (its KV cache's positions) and sequences
/// per batch (a beam request takes num_beams of them).</summary>
public sealed record DecodingLimits(int MaxTokens, int MaxBatchSize);

/// <summary>The decoding options a caption was made with, named as the form fields that set them;
/// only those that matter for the strategy are present.</summary>
public sealed record DecodingUsed
{
    /// <summary>greedy, sample or beam (the <c>decoding</c> form field).</summary>
    public required string Strategy { get; init; }
    /// <summary>Most tokens generated: the request's max_tokens, capped by the model's positions.</summary>
    public required int MaxTokens { get; init; }
    public int NoRepeatNgramSize { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? Temperature { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? TopK { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? TopP { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public long? Seed { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? NumBeams { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? LengthPenalty { get; init; }

    public static DecodingUsed From(DecodingOptions o, ModelConfig config)
    {
        bool sample = o.Strategy == DecodingStrategy.Sample, beam = o.Strategy == DecodingStrategy.Beam;
        return new DecodingUsed
        {
            Strategy = o.Strategy.ToString().ToLowerInvariant(),
            MaxTokens = Math.Min(o.MaxNewTokens, config.MaxPositions - 1),
            NoRepeatNgramSize = o.NoRepeatNgramSize,
            Temperature = sample ? o.Temperature : null,
            TopK = sample ? o.TopK : null,
            TopP = sample ? o.TopP : null,
            Seed = sample ? o.Seed : null,
            NumBeams = beam ? o.NumBeams : null,
            LengthPenalty = beam ? o.LengthPenalty : null,
        };
    }
}
