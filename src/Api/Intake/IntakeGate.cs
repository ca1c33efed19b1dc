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
    /// <summary>Takes multipart/form-data (/captions).</summary>
    public static readonly CaptionIntake Instance = new();

    /// <summary>Takes one image as the body, raw or base64 in JSON, or a form (the Hugging Face Inference routes).</summary>
    public static readonly CaptionIntake AnyBody = new() { TakesAnyBody = true };

    public bool TakesAnyBody { get; private init; }

    /// <summary>The largest body this endpoint reads.</summary>
    public long BodyLimit(CaptionerOptions options) =>
        TakesAnyBody ? UploadLimits.InferenceBodyLimit(options) : UploadLimits.RequestBodyLimit(options);
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
        if (context.GetEndpoint()?.Metadata.GetMetadata<CaptionIntake>() is not { } intake)
        {
            await next(context);
            return;
        }
        ApiProblem? refusal = Refusal(host, scheduler);
        if (refusal is null && context.Request.ContentLength > intake.BodyLimit(options.Value))
            refusal = TooLarge(intake);
        refusal ??= await ReadBody(context, intake);
        if (refusal is null)
        {
            await next(context);
            return;
        }
        metrics.Request(RequestOutcomeFilter.Outcome(refusal));
        await refusal.ExecuteAsync(context);
    }

    /// <summary>Reads the body (and the form, which the endpoint then binds) within
    /// <see cref="CaptionerOptions.UploadTimeoutSeconds"/>; a problem when it does not arrive whole in time or cannot be read.</summary>
    private async Task<ApiProblem?> ReadBody(HttpContext context, CaptionIntake intake)
    {
        var request = context.Request;
        if (!request.HasFormContentType && !intake.TakesAnyBody) return null;   // the endpoint answers 415
        long limit = intake.BodyLimit(options.Value);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(TimeSpan.FromSeconds(options.Value.UploadTimeoutSeconds));
        try
        {
            // The whole body into a buffer (a temporary file beyond 64 KB) under the deadline, then the
            // form from the buffer. (Cancelling ReadFormAsync itself makes Kestrel drop the connection
            // without the answer; a cancelled read of the body stream is answered cleanly.)
            var chunk = new byte[16 * 1024];
            request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit + chunk.Length);
            long read = 0;
            for (int n; (n = await request.Body.ReadAsync(chunk, deadline.Token)) > 0;)
                if ((read += n) > limit) return TooLarge(intake);   // Kestrel's limit is the forms' (larger)
            request.Body.Position = 0;
            if (request.HasFormContentType) await request.ReadFormAsync(context.RequestAborted);
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
                StatusCodes.Status413PayloadTooLarge => TooLarge(intake),
                StatusCodes.Status408RequestTimeout => TooSlow(),
                _ => Malformed(),
            };
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return Malformed();
        }
    }

    private ApiProblem TooLarge(CaptionIntake intake) => intake.TakesAnyBody
        ? ApiProblems.ImageBodyTooLarge(intake.BodyLimit(options.Value), options.Value.MaxUploadBytes)
        : ApiProblems.RequestTooLarge(UploadLimits.RequestBodyLimit(options.Value), options.Value.MaxImagesPerRequest, options.Value.MaxUploadBytes);

    private ApiProblem TooSlow() => ApiProblems.UploadTooSlow(options.Value.UploadTimeoutSeconds);

    private static ApiProblem Malformed() => ApiProblems.MalformedForm();

    /// <summary>503 when the model is not ready, the service is stopping or the queue is full; null when a request may go on.</summary>
    public static ApiProblem? Refusal(ModelHost host, CaptionScheduler scheduler)
    {
        if (host.Current is null || !scheduler.IsRunning)
            return scheduler.IsRunning || host.Current is null ? ApiProblems.NotReady(host.State) : ApiProblems.ShuttingDown();
        if (scheduler.QueueDepth >= scheduler.Options.QueueCapacity)
            return ApiProblems.QueueFull(scheduler.Options.QueueCapacity);
        return null;
    }
}
