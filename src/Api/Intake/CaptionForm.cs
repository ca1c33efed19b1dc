using Microsoft.AspNetCore.Mvc;

namespace CaptionService.Api.Intake;

/// <summary>The multipart/form-data fields of <c>POST /captions</c>: one image and the decoding options.</summary>
public sealed class CaptionForm : DecodingFields
{
    /// <summary>The image to caption: JPEG, PNG, WebP, BMP or GIF (first frame only).</summary>
    // No [FromForm] here: Swashbuckle refuses it on an IFormFile. Files bind by name, ignoring case ("image").
    public IFormFile? Image { get; init; }
}

/// <summary>The multipart/form-data fields of <c>POST /captions/batch</c>: several images, one set of decoding options.</summary>
public sealed class BatchCaptionForm : DecodingFields
{
    /// <summary>The images to caption, each a file field named <c>images</c>; captions come back in the same order.</summary>
    public IFormFileCollection? Images { get; init; }
}

/// <summary>
/// The decoding options of a caption request, all optional: an absent (or empty) field takes the
/// checkpoint's default (its config's <c>decoding</c>). Numbers are taken as text and parsed by
/// <see cref="DecodingForm"/> so that a bad value gets a 400 that names the field.
/// </summary>
public abstract class DecodingFields
{
    /// <summary>Decoding strategy: greedy, sample or beam. Options another strategy uses are ignored.</summary>
    [FromForm(Name = FormFields.Decoding)]
    public string? Decoding { get; init; }

    /// <summary>Most tokens to generate: at least 1, at most the service's limit (GET /model: <c>limits.max_tokens</c>; Captioner:Batching:MaxTokens, and never more than the model's positions minus one).</summary>
    [FromForm(Name = FormFields.MaxTokens)]
    public string? MaxTokens { get; init; }

    /// <summary>Sampling temperature, from 0.01 to 100 (sample only).</summary>
    [FromForm(Name = FormFields.Temperature)]
    public string? Temperature { get; init; }

    /// <summary>Sample from the k most likely tokens only; 0 keeps all (sample only).</summary>
    [FromForm(Name = FormFields.TopK)]
    public string? TopK { get; init; }

    /// <summary>Nucleus sampling: the smallest set of tokens whose probability reaches p, in (0, 1] (sample only).</summary>
    [FromForm(Name = FormFields.TopP)]
    public string? TopP { get; init; }

    /// <summary>Random seed for sampling: the same image, options and seed give the same caption. Drawn (and reported) when absent or empty (sample only).</summary>
    [FromForm(Name = FormFields.Seed)]
    public string? Seed { get; init; }

    /// <summary>Beams kept by beam search, at most 16 and at most the batch size (beam only).</summary>
    [FromForm(Name = FormFields.NumBeams)]
    public string? NumBeams { get; init; }

    /// <summary>Beam score = sum of log-probabilities / length^length_penalty, from -10 to 10 (beam only).</summary>
    [FromForm(Name = FormFields.LengthPenalty)]
    public string? LengthPenalty { get; init; }

    /// <summary>Never repeat an n-gram of this size; 0 turns it off.</summary>
    [FromForm(Name = FormFields.NoRepeatNgramSize)]
    public string? NoRepeatNgramSize { get; init; }
}

/// <summary>The form field names, as clients send them and problem details name them.</summary>
public static class FormFields
{
    public const string Image = "image";
    public const string Images = "images";
    public const string Decoding = "decoding";
    public const string MaxTokens = "max_tokens";
    public const string Temperature = "temperature";
    public const string TopK = "top_k";
    public const string TopP = "top_p";
    public const string Seed = "seed";
    public const string NumBeams = "num_beams";
    public const string LengthPenalty = "length_penalty";
    public const string NoRepeatNgramSize = "no_repeat_ngram_size";

    /// <summary>The decoding options' fields.</summary>
    public static readonly IReadOnlySet<string> Options = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        Decoding, MaxTokens, Temperature, TopK, TopP, Seed, NumBeams, LengthPenalty, NoRepeatNgramSize,
    };
}
