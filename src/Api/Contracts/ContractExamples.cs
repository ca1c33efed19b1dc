using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;
using CaptionService.Model.Imaging;

namespace CaptionService.Api.Contracts;

/// <summary>What the answers look like, for the API's documentation (Swagger): made with the contracts and
/// the problem factories the endpoints use, so they cannot drift from what is sent.</summary>
public static class ContractExamples
{
    public static CaptionResponse Caption { get; } = new(
        "a large red circle in the middle",
        7,
        new DecodingUsed { Strategy = "greedy", MaxTokens = 30, NoRepeatNgramSize = 0 },
        new ModelRef("demo-shapes", ModelNotice.Demo),
        new CaptionTimings(Queue: 0.3, Preprocess: 2.1, Encode: 4.6, Decode: 31.8, Total: 39.5));

    public static BatchCaptionResponse Batch { get; } = new([
        Caption,
        Caption with { Caption = "a small blue square on the left", Tokens = 8 },
    ]);

    /// <summary>One problem per status the caption endpoints answer with.</summary>
    public static IReadOnlyDictionary<int, ApiProblem> Problems { get; } = new Dictionary<int, ApiProblem>
    {
        [StatusCodes.Status400BadRequest] = ApiProblems.Field("temperature", "temperature must be a number from 0.01 to 100 (got 0)"),
        [StatusCodes.Status401Unauthorized] = ApiProblems.Unauthorized(keyGiven: false),
        [StatusCodes.Status408RequestTimeout] = ApiProblems.UploadTooSlow(60),
        [StatusCodes.Status413PayloadTooLarge] = ApiProblems.UploadTooLarge("The image", 24_117_248, 20_971_520),
        [StatusCodes.Status415UnsupportedMediaType] = ApiProblems.ImageRejected(new ImageRejectedException(ImageRejectReason.UnsupportedFormat,
            "TIFF images are not supported; send JPEG, PNG, WebP, BMP or GIF.")),
        [StatusCodes.Status429TooManyRequests] = ApiProblems.RateLimited(60, TimeSpan.FromSeconds(12)),
        [StatusCodes.Status500InternalServerError] = ApiProblems.CaptionFailed(),
        [StatusCodes.Status503ServiceUnavailable] = ApiProblems.QueueFull(256),
    };

    /// <summary>One problem per status GET /model answers with.</summary>
    public static IReadOnlyDictionary<int, ApiProblem> ModelProblems { get; } = new Dictionary<int, ApiProblem>
    {
        [StatusCodes.Status401Unauthorized] = ApiProblems.Unauthorized(keyGiven: false),
        [StatusCodes.Status429TooManyRequests] = ApiProblems.AuthThrottled(TimeSpan.FromSeconds(6)),
        [StatusCodes.Status503ServiceUnavailable] = ApiProblems.NotReady("loading"),
    };

    public static ImageToTextResponse ImageToText { get; } = new(Caption.Caption);

    /// <summary>One problem per status the Hugging Face Inference routes answer with (with <c>error</c>; 429 for a full queue).</summary>
    public static IReadOnlyDictionary<int, ApiProblem> InferenceProblems { get; } = new Dictionary<int, ApiProblem>
    {
        [StatusCodes.Status400BadRequest] = ApiProblem.Validation(new Dictionary<string, string[]> { ["parameters.max_length"] = ["Unknown parameter 'max_length'; the parameters are max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, length_penalty, no_repeat_ngram_size, seed (also under generation_parameters)."] },
            "Invalid request member 'parameters.max_length'", "Unknown parameter 'max_length'; the parameters are max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, length_penalty, no_repeat_ngram_size, seed (also under generation_parameters)."),
        [StatusCodes.Status401Unauthorized] = ApiProblems.Unauthorized(keyGiven: true),
        [StatusCodes.Status404NotFound] = ApiProblem.Of(StatusCodes.Status404NotFound, "Unknown model",
            "This service serves 'nlpconnect/vit-gpt2-image-captioning' (not 'demo-shapes'): POST /models/nlpconnect/vit-gpt2-image-captioning, or POST /.", "unknown-model"),
        [StatusCodes.Status408RequestTimeout] = Problems[StatusCodes.Status408RequestTimeout],
        [StatusCodes.Status413PayloadTooLarge] = Problems[StatusCodes.Status413PayloadTooLarge],
        [StatusCodes.Status415UnsupportedMediaType] = Problems[StatusCodes.Status415UnsupportedMediaType],
        [StatusCodes.Status429TooManyRequests] = Problems[StatusCodes.Status503ServiceUnavailable],
        [StatusCodes.Status500InternalServerError] = Problems[StatusCodes.Status500InternalServerError],
    }.ToDictionary(p => p.Key, p => InferenceEndpoints.Reword(p.Value));
}
