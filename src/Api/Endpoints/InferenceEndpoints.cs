using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CaptionService.Api.Contracts;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// The Hugging Face Inference API's image-to-text task, so that its clients (@huggingface/inference's
/// <c>imageToText</c>, huggingface_hub's <c>image_to_text</c>, plain HTTP) caption through this service:
/// <c>POST /</c> (the endpoint URL a client is given) and <c>POST /models/{id}</c> for the id served.
/// The body is the image (its Content-Type an image type, or application/octet-stream), or JSON
/// <c>{"inputs": "&lt;base64&gt;", "parameters": {...}}</c>; the answer is <c>{"generated_text": "..."}</c>.
/// Same path as POST /captions: API key (X-Api-Key or Authorization: Bearer), rate limit, intake gate,
/// batching and limits. Problems carry <c>error</c> (what these clients show), and a 503 is answered
/// as 429 with Retry-After: @huggingface/inference re-sends every 503 at once, without end.
/// </summary>
public static class InferenceEndpoints
{
    public static IEndpointRouteBuilder MapInferenceEndpoints(this IEndpointRouteBuilder app)
    {
        var inference = app.MapGroup("")
            .WithTags("Hugging Face Inference API")
            .AddEndpointFilter<RequestOutcomeFilter>()
            .WithMetadata(RequiresApiKey.Instance, CaptionIntake.AnyBody, Wording.Instance)
            .RequireRateLimiting(ClientRateLimit.Policy)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .DisableAntiforgery();
        const string description = "The image as the body (its Content-Type an image type, or application/octet-stream), or JSON "
            + "{\"inputs\": \"<base64 image>\", \"parameters\": {...}} with the task's parameters. Answers {\"generated_text\": \"...\"}. "
            + "The same limits, batching and API key (X-Api-Key or Authorization: Bearer) as POST /captions; problems carry `error`; "
            + "when the queue is full, or the model is not ready, 429 with Retry-After.";
        inference.MapPost("/", (HttpRequest request, CaptionRequests captions, ModelHost host, IOptions<CaptionerOptions> options) =>
                ImageToText(null, request, captions, host, options))
            .WithName("ImageToText")
            .WithSummary("Caption one image (Hugging Face Inference API, image-to-text)")
            .WithDescription(description);
        inference.MapPost("/models/{**id}", (string id, HttpRequest request, CaptionRequests captions, ModelHost host, IOptions<CaptionerOptions> options) =>
                ImageToText(Uri.UnescapeDataString(id), request, captions, host, options))
            .WithName("ImageToTextForModel")
            .WithSummary("Caption one image with the model named (Hugging Face Inference API, image-to-text)")
            .WithDescription(description + " Another model id than the one served is a 404 that names it.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>The parameters accepted, by their names in the task; each sets a form field of POST /captions.</summary>
    private static readonly Dictionary<string, string> Parameters = new()
    {
        ["max_new_tokens"] = FormFields.MaxTokens,
        ["do_sample"] = FormFields.Decoding,
        ["temperature"] = FormFields.Temperature,
        ["top_k"] = FormFields.TopK,
        ["top_p"] = FormFields.TopP,
        ["num_beams"] = FormFields.NumBeams,
        ["length_penalty"] = FormFields.LengthPenalty,
        ["no_repeat_ngram_size"] = FormFields.NoRepeatNgramSize,
        ["seed"] = FormFields.Seed,
    };

    private const string GenerationParameters = "generation_parameters";

    private static async Task<Results<Ok<ImageToTextResponse>, ApiProblem>> ImageToText(string? id, HttpRequest request, CaptionRequests captions,
        ModelHost host, IOptions<CaptionerOptions> options)
    {
        var clock = Stopwatch.StartNew();
        if (id is not null && host.Current is { } served && !string.Equals(id, served.Id, StringComparison.OrdinalIgnoreCase))
            return ApiProblem.Of(StatusCodes.Status404NotFound, "Unknown model",
                $"This service serves '{served.Id}' (not '{id}'): POST /models/{served.Id}, or POST /.", "unknown-model");

        var media = request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        var (image, fields, problem) = media switch
        {
            "application/json" => await ReadJsonAsync(request, options.Value.MaxUploadBytes, host.Current?.Config.Decoding.Strategy),
            null or "" or "application/octet-stream" => ReadRaw(request, options.Value.MaxUploadBytes),
            _ when media.StartsWith("image/", StringComparison.Ordinal) => ReadRaw(request, options.Value.MaxUploadBytes),
            _ => (null, null, ApiProblem.Of(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"Send the image as the body with its image Content-Type (image/jpeg, image/png...) or application/octet-stream, "
                + $"or application/json {{\"inputs\": \"<base64 image>\", \"parameters\": {{...}}}} (got '{request.ContentType}'); "
                + "POST /captions takes multipart/form-data.", "unsupported-format")),
        };
        if (problem is not null) return problem;
        return await captions.CaptionAsync(request, [image!], fields!, "inputs", c => new ImageToTextResponse(c[0].Caption), clock, ParameterName);
    }

    /// <summary>A form field of POST /captions -> the parameter that sets it here.</summary>
    private static string ParameterName(string field) =>
        "parameters." + (Parameters.FirstOrDefault(p => p.Value == field).Key ?? field);

    /// <summary>The body is the image (<see cref="IntakeGate"/> has buffered it whole, within its limit).</summary>
    private static (UploadedImage?, DecodingFields?, ApiProblem?) ReadRaw(HttpRequest request, long maxBytes)
    {
        var body = request.Body;
        if (body.Length > maxBytes) return (null, null, ApiProblems.UploadTooLarge("The image", body.Length, maxBytes));
        return (new UploadedImage("image", new FormFile(body, 0, body.Length, "inputs", "image")), new Fields(), null);
    }

    private static async Task<(UploadedImage?, DecodingFields?, ApiProblem?)> ReadJsonAsync(HttpRequest request, long maxBytes, DecodingStrategy? defaultStrategy)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = 8 }, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return Invalid("inputs", $"The body is not valid JSON: {e.Message}");
        }
        using var _ = document;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            return Invalid("inputs", "The body must be a JSON object {\"inputs\": \"<base64 image>\", \"parameters\": {...}}.");
        if (root.EnumerateObject().Select(m => m.Name).FirstOrDefault(n => n is not ("inputs" or "parameters")) is { } unknown)
            return Invalid(unknown, $"Unknown member '{unknown}'; the members are inputs and parameters.");
        if (!root.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.String)
            return Invalid("inputs", "'inputs' is required: the image's bytes as a base64 string.");

        var text = inputs.GetString()!;
        if (text.StartsWith("data:", StringComparison.OrdinalIgnoreCase) && text.IndexOf(',') is > 0 and var comma)
            text = text[(comma + 1)..];
        if (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return Invalid("inputs", "'inputs' is a URL: this service fetches nothing; send the image's bytes, base64-encoded.");
        long decodedLength = (long)text.Length / 4 * 3;
        if (decodedLength > maxBytes + 2)
            return (null, null, ApiProblems.UploadTooLarge("The image", decodedLength, maxBytes));
        var bytes = new byte[text.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64String(text, bytes, out int length))
            return Invalid("inputs", "'inputs' is not valid base64 (standard alphabet, padded with '=').");
        if (length > maxBytes) return (null, null, ApiProblems.UploadTooLarge("The image", length, maxBytes));

        var (fields, problem) = ReadParameters(root.TryGetProperty("parameters", out var p) ? p : default, defaultStrategy);
        if (problem is not null) return (null, null, problem);
        var upload = new FormFile(new MemoryStream(bytes, 0, length, writable: false), 0, length, "inputs", "image");
        return (new UploadedImage("image", upload), fields, null);
    }

    /// <summary>The task's parameters (flat, or under generation_parameters) -> the form fields of POST /captions.
    /// do_sample true samples; num_beams over 1 searches beams; do_sample false alone decodes greedily
    /// (unless the checkpoint's default is beam search); otherwise the checkpoint's default decoding.</summary>
    private static (DecodingFields?, ApiProblem?) ReadParameters(JsonElement parameters, DecodingStrategy? defaultStrategy)
    {
        var values = new Dictionary<string, JsonElement>();
        if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
        {
            if (parameters.ValueKind != JsonValueKind.Object)
                return (null, Invalid("parameters", "'parameters' must be a JSON object.").Item3);
            var members = parameters.EnumerateObject().Where(m => m.Name != GenerationParameters).ToList();
            if (parameters.TryGetProperty(GenerationParameters, out var nested) && nested.ValueKind != JsonValueKind.Null)
            {
                if (nested.ValueKind != JsonValueKind.Object)
                    return (null, Invalid("parameters." + GenerationParameters, $"'parameters.{GenerationParameters}' must be a JSON object.").Item3);
                members.AddRange(nested.EnumerateObject());
            }
            foreach (var member in members)
            {
                if (!Parameters.ContainsKey(member.Name))
                    return (null, Invalid("parameters." + member.Name, $"Unknown parameter '{member.Name}'; the parameters are "
                        + string.Join(", ", Parameters.Keys) + " (also under generation_parameters).").Item3);
                if (member.Value.ValueKind == JsonValueKind.Null) continue;
                bool boolean = member.Name == "do_sample";
                if (boolean ? member.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False) : member.Value.ValueKind != JsonValueKind.Number)
                    return (null, Invalid("parameters." + member.Name, $"parameters.{member.Name} must be {(boolean ? "true or false" : "a number")} (got {member.Value.GetRawText()})").Item3);
                values[member.Name] = member.Value;
            }
        }

        string? Number(string name) => values.TryGetValue(name, out var v) ? v.GetRawText() : null;
        bool? sample = values.TryGetValue("do_sample", out var s) ? s.GetBoolean() : null;
        string? beams = Number("num_beams");
        bool manyBeams = beams is not null && !(int.TryParse(beams, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n <= 1);
        if (sample == true && manyBeams)
            return (null, Invalid("parameters.num_beams", "Sampling with beams is not supported: set do_sample to false, or num_beams to 1.").Item3);
        string? decoding = sample == true ? "sample"
            : beams is not null ? (manyBeams ? "beam" : "greedy")
            : sample == false && defaultStrategy == DecodingStrategy.Sample ? "greedy"
            : null;
        return (new Fields
        {
            Decoding = decoding,
            MaxTokens = Number("max_new_tokens"),
            Temperature = Number("temperature"),
            TopK = Number("top_k"),
            TopP = Number("top_p"),
            NumBeams = beams,
            LengthPenalty = Number("length_penalty"),
            NoRepeatNgramSize = Number("no_repeat_ngram_size"),
            Seed = Number("seed"),
        }, null);
    }

    private static (UploadedImage?, DecodingFields?, ApiProblem?) Invalid(string member, string message) =>
        (null, null, ApiProblem.Validation(new Dictionary<string, string[]> { [member] = [message] }, $"Invalid request member '{member}'", message));

    /// <summary>The decoding options, set from the task's parameters.</summary>
    private sealed class Fields : DecodingFields;

    /// <summary>A problem as these routes answer it: with <c>error</c> (what the clients show), and 429 for a 503.</summary>
    public static ApiProblem Reword(ApiProblem problem) => problem.With(
        problem.StatusCode == StatusCodes.Status503ServiceUnavailable ? StatusCodes.Status429TooManyRequests : problem.StatusCode ?? 500,
        "error", problem.Problem.Detail ?? problem.Problem.Title);

    private sealed class Wording : IProblemWording
    {
        public static readonly Wording Instance = new();

        public ApiProblem Reword(ApiProblem problem) => InferenceEndpoints.Reword(problem);
    }
}
