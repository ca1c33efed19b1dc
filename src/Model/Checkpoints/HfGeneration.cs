using System.Globalization;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A Hugging Face checkpoint's own generation settings as its decoding defaults: <c>generation_config.json</c>
/// when the repository has one, else the generation keys of <c>config.json</c> (as transformers'
/// <c>GenerationConfig.from_model_config</c> does), with transformers' defaults for what neither sets.
/// </summary>
/// <remarks>
/// <c>max_length</c> counts the decoder start token in encoder-decoder generation, so it allows
/// <c>max_length - 1</c> new tokens; <c>max_new_tokens</c> wins when set. <c>num_beams</c> &gt; 1 is beam
/// search, <c>do_sample</c> sampling (with transformers' default <c>top_k</c> 50). Settings this decoder does
/// not implement are listed in the notes and otherwise ignored.
/// </remarks>
internal static class HfGeneration
{
    public const string FileName = "generation_config.json";

    public static DecodingOptions Read(string dir, JsonFile config, List<string> notes)
    {
        var path = Path.Combine(dir, FileName);
        var json = File.Exists(path) ? JsonFile.Read(path) : config;
        var from = File.Exists(path) ? FileName : "config.json";

        int beams = json.Int("num_beams") ?? 1;
        bool sample = json.Bool("do_sample") ?? false;
        int newTokens = json.Int("max_new_tokens") ?? (json.Int("max_length") ?? 20) - 1;
        double temperature = json.Double("temperature") ?? 1.0;
        if (beams < 1) throw json.Error("num_beams", $"must be at least 1 (got {beams})");
        if (newTokens < 1)
            throw json.Error(json.Int("max_new_tokens") is null ? "max_length" : "max_new_tokens",
                "leaves no room for a token (max_length counts the decoder start token)");
        if (!(temperature > 0))
        {
            if (sample) throw json.Error("temperature", $"must be positive when do_sample is true (got {temperature})");
            temperature = 1.0; // unused without sampling; transformers accepts 0 there
        }

        var options = new DecodingOptions
        {
            Strategy = sample ? DecodingStrategy.Sample : beams > 1 ? DecodingStrategy.Beam : DecodingStrategy.Greedy,
            MaxNewTokens = newTokens,
            NumBeams = beams > 1 ? beams : new DecodingOptions().NumBeams,
            Temperature = temperature,
            TopK = json.Int("top_k") ?? 50,
            TopP = json.Double("top_p") ?? 1.0,
            LengthPenalty = json.Double("length_penalty") ?? 1.0,
            NoRepeatNgramSize = json.Int("no_repeat_ngram_size") ?? 0,
        };
        var errors = options.Validate().ToList();
        if (errors.Count > 0) throw new InvalidDataException($"{json.Path}: the generation settings are invalid: {string.Join("; ", errors)}");

        var ignored = new List<string>();
        if (sample && beams > 1) ignored.Add($"num_beams {beams} with do_sample (beam sampling: plain sampling is used)");
        if (json.Double("repetition_penalty") is double rp && rp != 1.0) ignored.Add(Invariant($"repetition_penalty {rp}"));
        if (json.Int("num_beam_groups") is int groups && groups > 1) ignored.Add($"num_beam_groups {groups}");
        if (json.Int("min_length") is int min && min > 0) ignored.Add($"min_length {min}");
        if (json.Int("min_new_tokens") is int minNew && minNew > 0) ignored.Add($"min_new_tokens {minNew}");
        var strategy = options.Strategy switch
        {
            DecodingStrategy.Beam => $"beam search with {options.NumBeams} beams",
            DecodingStrategy.Sample => Invariant($"sampling (temperature {options.Temperature}, top-k {options.TopK}, top-p {options.TopP})"),
            _ => "greedy",
        };
        notes.Add($"decoding defaults from {from}: {strategy}, at most {options.MaxNewTokens} new tokens" +
            (ignored.Count > 0 ? $" (not implemented, ignored: {string.Join(", ", ignored)})" : ""));
        return options;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
