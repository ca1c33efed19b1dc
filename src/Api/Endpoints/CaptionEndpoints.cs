using System.Text.Json.Serialization;
using CaptionService.Api.Telemetry;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

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

public static class CaptionEndpoints
{
    public static IEndpointRouteBuilder MapCaptionEndpoints(this IEndpointRouteBuilder app)
    {
        var captions = app.MapGroup("/captions")
            .WithTags("Captions")
            .AddEndpointFilter<RequestOutcomeFilter>()
            // Checked by middleware, in this order, before the body is read: AccessControl, the rate
            // limit, IntakeGate (readiness, queue, declared size).
            .WithMetadata(RequiresApiKey.Instance, CaptionIntake.Instance)
            .RequireRateLimiting(ClientRateLimit.Policy)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            // An API for programs, not a browser form: no antiforgery token.
            .DisableAntiforgery();

        captions.MapPost("/", CreateCaption)
            .WithName("CreateCaption")
            .WithSummary("Caption one image")
            .WithDescription(
                "multipart/form-data with the image as the file field `image`; the other fields are optional decoding "
                + "options whose defaults come from the checkpoint's config (`decoding`). Errors are RFC 7807 problem details; "
                + "503 (with Retry-After) when the queue is full.")
            .Produces<CaptionResponse>();

        captions.MapPost("/batch", CreateCaptions)
            .WithName("CreateCaptions")
            .WithSummary("Caption several images")
            .WithDescription(
                "multipart/form-data with each image as a file field `images`, and the same optional decoding options as "
                + "POST /captions, applied to every image. One caption per image, in order. A bad image refuses the whole "
                + "request with a problem that says which image.")
            .Produces<BatchCaptionResponse>();
        return app;
    }

    private static async Task<IResult> CreateCaption([AsParameters] CaptionForm form, HttpRequest request, CaptionRequests captions) =>
        await captions.HandleAsync(request, form, FormFields.Image, maxFiles: 1) is var (results, problem) && problem is null
            ? TypedResults.Ok(results![0])
            : problem!;

    private static async Task<IResult> CreateCaptions([AsParameters] BatchCaptionForm form, HttpRequest request, CaptionRequests captions,
        IOptions<CaptionerOptions> options) =>
        await captions.HandleAsync(request, form, FormFields.Images, options.Value.MaxImagesPerRequest) is var (results, problem) && problem is null
            ? TypedResults.Ok(new BatchCaptionResponse(results!))
            : problem!;
}
