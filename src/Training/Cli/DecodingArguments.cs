using System.CommandLine;
using CaptionService.Model;

namespace CaptionService.Training.Cli;

/// <summary>The decoding options shared by every command that generates captions. Unset options
/// keep the checkpoint's defaults (config.json "decoding").</summary>
internal sealed class DecodingArguments
{
    public Option<DecodingStrategy?> Decoding { get; } = new("--decoding") { Description = "greedy (argmax), sample, or beam" };
    public Option<int?> MaxTokens { get; } = new("--max-tokens") { Description = "Most tokens per caption" };
    public Option<double?> Temperature { get; } = new("--temperature") { Description = "Sampling temperature (> 0)" };
    public Option<int?> TopK { get; } = new("--top-k") { Description = "Sample among the k most likely tokens (0: all)" };
    public Option<double?> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass in (0, 1]" };
    public Option<int?> NumBeams { get; } = new("--num-beams") { Description = "Beams for beam search" };
    public Option<double?> LengthPenalty { get; } = new("--length-penalty") { Description = "Beam score = sum log p / length^penalty" };
    public Option<int?> NoRepeatNgram { get; } = new("--no-repeat-ngram-size") { Description = "Forbid repeating n-grams of this size (0: off)" };
    public Option<long?> Seed { get; } = new("--seed") { Description = "Seed for sampling" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Decoding, MaxTokens, Temperature, TopK, TopP, NumBeams, LengthPenalty, NoRepeatNgram, Seed })
            command.Options.Add(option);
    }

    /// <summary>The checkpoint's defaults with whatever was given on the command line on top.</summary>
    public DecodingOptions Resolve(ParseResult result, DecodingOptions defaults)
    {
        var o = defaults with
        {
            Strategy = result.GetValue(Decoding) ?? defaults.Strategy,
            MaxNewTokens = result.GetValue(MaxTokens) ?? defaults.MaxNewTokens,
            Temperature = result.GetValue(Temperature) ?? defaults.Temperature,
            TopK = result.GetValue(TopK) ?? defaults.TopK,
            TopP = result.GetValue(TopP) ?? defaults.TopP,
            NumBeams = result.GetValue(NumBeams) ?? defaults.NumBeams,
            LengthPenalty = result.GetValue(LengthPenalty) ?? defaults.LengthPenalty,
            NoRepeatNgramSize = result.GetValue(NoRepeatNgram) ?? defaults.NoRepeatNgramSize,
            Seed = result.GetValue(Seed) ?? defaults.Seed,
        };
        var errors = o.Validate().ToList();
        if (errors.Count > 0) throw new CliException(string.Join("; ", errors.Select(e => "--" + e.Replace('_', '-'))));
        return o;
    }
}

/// <summary>A mistake in the command line or its inputs: printed without a stack trace, exit code 2.</summary>
internal sealed class CliException(string message) : Exception(message);
