using CaptionService.Api.Contracts;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

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
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            // An API for programs, not a browser form: no antiforgery token.
            .DisableAntiforgery();

        captions.MapPost("/", CreateCaption)
            .WithName("CreateCaption")
            .WithSummary("Caption one image")
            .WithDescription(
                "multipart/form-data with the image as the file field `image`; the other fields are optional decoding "
                + "options whose defaults come from the checkpoint's config (`decoding`). Errors are RFC 7807 problem details; "
                + "503 (with Retry-After) when the queue is full.");

        captions.MapPost("/batch", CreateCaptions)
            .WithName("CreateCaptions")
            .WithSummary("Caption several images")
            .WithDescription(
                "multipart/form-data with each image as a file field `images`, and the same optional decoding options as "
                + "POST /captions, applied to every image. One caption per image, in order. A bad image refuses the whole "
                + "request with a problem that says which image.");
        return app;
    }

    private static Task<Results<Ok<CaptionResponse>, ApiProblem>> CreateCaption([AsParameters] CaptionForm form, HttpRequest request,
        CaptionRequests captions) =>
        captions.HandleAsync(request, form, FormFields.Image, maxFiles: 1, captions => captions[0]);

    private static Task<Results<Ok<BatchCaptionResponse>, ApiProblem>> CreateCaptions([AsParameters] BatchCaptionForm form, HttpRequest request,
        CaptionRequests captions, IOptions<CaptionerOptions> options) =>
        captions.HandleAsync(request, form, FormFields.Images, options.Value.MaxImagesPerRequest, captions => new BatchCaptionResponse(captions));
}
