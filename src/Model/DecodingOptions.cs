namespace CaptionService.Model;

/// <summary>How a caption is decoded: greedy (argmax), sampling, or beam search.</summary>
public enum DecodingStrategy
{
    Greedy,
    Sample,
    Beam,
}

/// <summary>Decoding options. A checkpoint's config carries the defaults; requests override them.</summary>
public sealed record DecodingOptions
{
    public DecodingStrategy Strategy { get; init; } = DecodingStrategy.Greedy;
    public int MaxNewTokens { get; init; } = 30;
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens when sampling; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    public int NumBeams { get; init; } = 3;
    /// <summary>Beam score = sum log p / length^LengthPenalty (as in HF transformers).</summary>
    public double LengthPenalty { get; init; } = 1.0;
    /// <summary>Forbid repeating any n-gram of this size; 0 turns it off.</summary>
    public int NoRepeatNgramSize { get; init; }
    /// <summary>Seed for sampling; null draws from a fresh generator.</summary>
    public long? Seed { get; init; }
    /// <summary>When false the end token is never chosen: every caption gets exactly MaxNewTokens tokens (benchmarks).</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>Temperatures outside [0.01, 100] change nothing a client could want (below: greedy; above:
    /// uniform) and, far enough out, overflow float32 (logits / 1e-39 is infinite): refused.</summary>
    public const double MinTemperature = 0.01, MaxTemperature = 100;

    /// <summary>|length_penalty| beyond 10 makes length^penalty overflow or vanish for captions of a few tokens.</summary>
    public const double MaxLengthPenalty = 10;

    /// <summary>Every problem, each starting with the option's name; empty when every value is one the
    /// decoding arithmetic is defined for (NaN, infinities and values that overflow are refused).</summary>
    public IEnumerable<string> Validate()
    {
        var g = System.Globalization.CultureInfo.InvariantCulture;
        if (MaxNewTokens < 1) yield return $"max_new_tokens must be at least 1 (got {MaxNewTokens})";
        if (!(Temperature >= MinTemperature && Temperature <= MaxTemperature))
            yield return string.Create(g, $"temperature must be a number from {MinTemperature} to {MaxTemperature} (got {Temperature})");
        if (TopK < 0) yield return $"top_k must be 0 (off) or positive (got {TopK})";
        if (!(TopP > 0 && TopP <= 1)) yield return string.Create(g, $"top_p must be in (0, 1] (got {TopP})");
        if (NumBeams < 1) yield return $"num_beams must be at least 1 (got {NumBeams})";
        if (!(Math.Abs(LengthPenalty) <= MaxLengthPenalty))
            yield return string.Create(g, $"length_penalty must be a number from -{MaxLengthPenalty} to {MaxLengthPenalty} (got {LengthPenalty})");
        if (NoRepeatNgramSize < 0) yield return $"no_repeat_ngram_size must be 0 (off) or positive (got {NoRepeatNgramSize})";
    }
}
