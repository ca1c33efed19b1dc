using System.Text.Json.Serialization;
using CaptionService.Model;

namespace CaptionService.Api.Contracts;

// What POST /captions and POST /captions/batch answer with (snake_case JSON, see Program's JSON options).

/// <summary>A caption and how it was made.</summary>
/// <param name="Caption">The generated text.</param>
/// <param name="Tokens">Tokens generated (the end token not counted).</param>
/// <param name="Decoding">The options actually used (request over checkpoint defaults; a drawn sampling seed included).</param>
/// <param name="Model">Which model answered.</param>
/// <param name="TimingsMs">Where the time went, in milliseconds.</param>
public sealed record CaptionResponse(string Caption, int Tokens, DecodingUsed Decoding, ModelRef Model, CaptionTimings TimingsMs);

/// <summary>Captions of a batch upload, in the order the images were sent.</summary>
public sealed record BatchCaptionResponse(IReadOnlyList<CaptionResponse> Captions);

/// <param name="Id">OWNER/NAME for a Hugging Face Hub model, else the checkpoint directory's name ("demo-shapes" for the built-in one).</param>
/// <param name="Notice">Only from the built-in demo model: that it knows coloured shapes only, and how to serve a real model.</param>
public sealed record ModelRef(string Id, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Notice = null);

/// <param name="Queue">Waiting for a place in the batch.</param>
/// <param name="Preprocess">Checking, decoding, resizing and normalizing the image.</param>
/// <param name="Encode">The encoder pass (shared with the images that joined the batch at the same step).</param>
/// <param name="Decode">From joining the batch to the last token (steps shared with the rest of the batch).</param>
/// <param name="Total">From the handler's start to the answer.</param>
public sealed record CaptionTimings(double Queue, double Preprocess, double Encode, double Decode, double Total);

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
