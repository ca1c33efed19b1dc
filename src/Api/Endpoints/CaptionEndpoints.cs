using System.Diagnostics;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Model.Imaging;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>A caption and how it was made.</summary>
/// <param name="Caption">The generated text.</param>
/// <param name="Decoding">The options actually used (request over checkpoint defaults; a drawn sampling seed included).</param>
/// <param name="Model">Which model answered.</param>
/// <param name="TimingsMs">Where the time went, in milliseconds.</param>
public sealed record CaptionResponse(string Caption, DecodingUsed Decoding, ModelRef Model, CaptionTimings TimingsMs);

/// <param name="Id">The checkpoint directory's name ("demo-tiny" for the built-in one).</param>
public sealed record ModelRef(string Id);

/// <param name="Preprocess">Checking, decoding, resizing and normalizing the image.</param>
/// <param name="Generate">Encoding the image and generating the tokens (and detokenizing).</param>
/// <param name="Total">From the handler's start to the answer, waiting for the model included.</param>
public sealed record CaptionTimings(double Preprocess, double Generate, double Total);

public static class CaptionEndpoints
{
    public static IEndpointRouteBuilder MapCaptionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/captions", CreateCaption)
            .WithName("CreateCaption")
            .WithTags("Captions")
            .WithSummary("Caption one image")
            .WithDescription(
                "multipart/form-data with the image as the file field `image`; the other fields are optional decoding "
                + "options whose defaults come from the checkpoint's config (`decoding`). Errors are RFC 7807 problem details.")
            .Produces<CaptionResponse>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            // An API for programs, not a browser form: no antiforgery token.
            .DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> CreateCaption(
        [AsParameters] CaptionForm form,
        HttpRequest request,
        ModelHost host,
        IOptions<CaptionerOptions> options,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (bytes, problem) = await ImageUpload.ReadAsync(request, form.Image, options.Value, cancellationToken);
        if (problem is not null) return problem;

        if (host.Current is not { } model) return ApiProblems.NotReady(host.State);
        var decoding = DecodingForm.Parse(form, model.Config.Decoding, out var errors);
        if (decoding is null) return ApiProblems.Fields(errors);

        CaptionOutcome outcome;
        try
        {
            outcome = await host.CaptionAsync(bytes!, decoding, cancellationToken);
        }
        catch (ImageRejectedException e)
        {
            return ApiProblems.ImageRejected(e);
        }
        catch (ModelNotReadyException)
        {
            return ApiProblems.NotReady(host.State);
        }

        return TypedResults.Ok(new CaptionResponse(
            outcome.Text,
            DecodingUsed.From(decoding, model.Config),
            new ModelRef(model.Id),
            new CaptionTimings(Ms(outcome.Preprocess), Ms(outcome.Generate), Ms(clock.Elapsed))));
    }

    private static double Ms(TimeSpan t) => Math.Round(t.TotalMilliseconds, 2);
}
