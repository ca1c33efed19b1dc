using CaptionService.Api.Batching;
using CaptionService.Api.Endpoints;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
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
/// Then it reads the form, with a deadline: an upload that stalls gets 408 instead of holding its
/// connection (files over 64 KB are buffered on disk by the form reader, not in memory).
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
        if (refusal is null && context.Request.ContentLength > UploadLimits.RequestBodyLimit(options.Value))
            refusal = TooLarge();
        refusal ??= await ReadForm(context);
        if (refusal is null)
        {
            await next(context);
            return;
        }
        metrics.Request(RequestOutcomeFilter.Outcome(refusal));
        await refusal.ExecuteAsync(context);
    }

    /// <summary>Reads the form (the endpoint then binds the one read here) within
    /// <see cref="CaptionerOptions.UploadTimeoutSeconds"/>; a problem when it does not arrive whole in time or cannot be read.</summary>
    private async Task<IResult?> ReadForm(HttpContext context)
    {
        var request = context.Request;
        if (!request.HasFormContentType) return null;   // the endpoint answers 415
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(TimeSpan.FromSeconds(options.Value.UploadTimeoutSeconds));
        try
        {
            // The whole body into a buffer (a temporary file beyond 64 KB) under the deadline, then the
            // form from the buffer. (Cancelling ReadFormAsync itself makes Kestrel drop the connection
            // without the answer; a cancelled read of the body stream is answered cleanly.)
            request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: UploadLimits.RequestBodyLimit(options.Value));
            var chunk = new byte[16 * 1024];
            while (await request.Body.ReadAsync(chunk, deadline.Token) > 0) { }
            request.Body.Position = 0;
            await request.ReadFormAsync(context.RequestAborted);
            return null;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            return TooSlow();
        }
        catch (BadHttpRequestException e)
        {
            return e.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => TooLarge(),
                StatusCodes.Status408RequestTimeout => TooSlow(),
                _ => Malformed(),
            };
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return Malformed();
        }
    }

    private IResult TooLarge() => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Upload too large",
        detail: $"The request is larger than the {UploadLimits.RequestBodyLimit(options.Value):N0} bytes accepted (up to {options.Value.MaxImagesPerRequest} "
            + $"images of at most {options.Value.MaxUploadBytes:N0} bytes each, plus the form).",
        extensions: new Dictionary<string, object?> { ["reason"] = "too-large" });

    private IResult TooSlow() => Results.Problem(statusCode: StatusCodes.Status408RequestTimeout, title: "Upload too slow",
        detail: $"The request's body did not arrive within {options.Value.UploadTimeoutSeconds:0.#} s (Captioner:UploadTimeoutSeconds).",
        extensions: new Dictionary<string, object?> { ["reason"] = "upload-timeout" });

    private static IResult Malformed() => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed form",
        detail: $"The multipart/form-data body could not be read (a wrong boundary, cut short, or over the form's limits); send the image as a file field named '{FormFields.Image}'.",
        extensions: new Dictionary<string, object?> { ["reason"] = "bad-request" });

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
