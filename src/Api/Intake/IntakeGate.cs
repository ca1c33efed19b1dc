using CaptionService.Api.Batching;
using CaptionService.Api.Endpoints;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Intake;

/// <summary>Endpoint metadata: a caption endpoint, which <see cref="IntakeGate"/> guards.</summary>
public sealed class CaptionIntake
{
    public static readonly CaptionIntake Instance = new();
}

/// <summary>
/// The checks that cost nothing, made before a caption request's body is read (after the API key
/// and the rate limit): the model is ready, the queue has room, and the declared body fits
/// (<see cref="UploadLimits.RequestBodyLimit"/>). A request that will be refused never pays for its
/// upload or its decoding. The same checks run again before decoding (<see cref="CaptionRequests"/>).
/// </summary>
public sealed class IntakeGate(RequestDelegate next, ModelHost host, CaptionScheduler scheduler, CaptionMetrics metrics, IOptions<CaptionerOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<CaptionIntake>() is null)
        {
            await next(context);
            return;
        }
        IResult? refusal = Refusal(host, scheduler);
        long limit = UploadLimits.RequestBodyLimit(options.Value);
        if (refusal is null && context.Request.ContentLength > limit)
            refusal = Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Upload too large",
                detail: $"The request is larger than the {limit:N0} bytes accepted (up to {options.Value.MaxImagesPerRequest} images of at most "
                    + $"{options.Value.MaxUploadBytes:N0} bytes each, plus the form).",
                extensions: new Dictionary<string, object?> { ["reason"] = "too-large" });
        if (refusal is null)
        {
            await next(context);
            return;
        }
        metrics.Request(RequestOutcomeFilter.Outcome(refusal));
        EarlyAnswer.SkipBody(context);
        await refusal.ExecuteAsync(context);
    }

    /// <summary>503 when the model is not ready, the service is stopping or the queue is full; null when a request may go on.</summary>
    public static IResult? Refusal(ModelHost host, CaptionScheduler scheduler)
    {
        if (host.Current is null || !scheduler.IsRunning)
            return scheduler.IsRunning || host.Current is null ? ApiProblems.NotReady(host.State) : ApiProblems.ShuttingDown();
        if (scheduler.QueueDepth >= scheduler.Options.QueueCapacity)
            return ApiProblems.QueueFull(scheduler.Options.QueueCapacity);
        return null;
    }
}

/// <summary>Answers given before a request's body was read.</summary>
public static class EarlyAnswer
{
    /// <summary>Closes the connection after the answer (HTTP/1.x), so that Kestrel does not read the
    /// rest of the upload (it drains an unread body for up to 5 s before the next request).</summary>
    public static void SkipBody(HttpContext context)
    {
        var request = context.Request;
        bool body = request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);
        if (body && (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method))
            && (HttpProtocol.IsHttp10(request.Protocol) || HttpProtocol.IsHttp11(request.Protocol)))
            context.Response.Headers.Connection = "close";
    }
}
