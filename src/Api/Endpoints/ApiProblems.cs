using CaptionService.Model.Imaging;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// The RFC 7807 answers for bad requests. Each names the problem in <c>detail</c> (and, for a bad
/// form field, under <c>errors</c>); none carries exception internals.
/// </summary>
public static class ApiProblems
{
    /// <summary>400 about one form field.</summary>
    public static IResult Field(string field, string message) =>
        Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            detail: message, title: $"Invalid form field '{field}'");

    /// <summary>400 listing every bad decoding option by field.</summary>
    public static IResult Fields(IDictionary<string, string[]> errors) =>
        Results.ValidationProblem(errors,
            detail: string.Join("; ", errors.SelectMany(e => e.Value)),
            title: errors.Count == 1 ? $"Invalid form field '{errors.Keys.First()}'" : "Invalid form fields");

    /// <param name="which">"The image", or which image of a batch (<see cref="Intake.ImageUpload.Describe"/>)</param>
    public static IResult UploadTooLarge(string which, long bytes, long limit) => Results.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Upload too large",
        detail: $"{which} is {bytes:N0} bytes; at most {limit:N0} are accepted.",
        extensions: new Dictionary<string, object?> { ["reason"] = "too-large", ["max_upload_bytes"] = limit });

    /// <summary>Empty 400, TooLarge 413, TooManyPixels 413, UnsupportedFormat 415, Corrupt 400; the message is meant for the client.</summary>
    /// <param name="which">null for a single upload, else which image of a batch (<see cref="Intake.ImageUpload.Describe"/>)</param>
    public static IResult ImageRejected(ImageRejectedException e, string? which = null)
    {
        var (status, title, reason) = e.Reason switch
        {
            ImageRejectReason.Empty => (StatusCodes.Status400BadRequest, "Empty image", "empty"),
            ImageRejectReason.TooLarge => (StatusCodes.Status413PayloadTooLarge, "Image too large", "too-large"),
            ImageRejectReason.TooManyPixels => (StatusCodes.Status413PayloadTooLarge, "Image has too many pixels", "too-many-pixels"),
            ImageRejectReason.UnsupportedFormat => (StatusCodes.Status415UnsupportedMediaType, "Unsupported image format", "unsupported-format"),
            ImageRejectReason.Corrupt => (StatusCodes.Status400BadRequest, "Damaged image", "corrupt"),
            _ => (StatusCodes.Status400BadRequest, "Image refused", e.Reason.ToString().ToLowerInvariant()),
        };
        return Results.Problem(statusCode: status, title: title, detail: which is null ? e.Message : $"{which}: {e.Message}",
            extensions: new Dictionary<string, object?> { ["reason"] = reason });
    }

    /// <summary>503 while the model loads (or after it failed to), or once shutdown has begun.</summary>
    public static IResult NotReady(string state) => Unavailable("not-ready", "Model not ready",
        $"The model is not ready ({state}); retry when GET /health/ready answers 200.", retryAfterSeconds: 5);

    /// <summary>503 at once when the queue is full.</summary>
    public static IResult QueueFull(int capacity) => Unavailable("queue-full", "Too busy",
        $"All {capacity} places in the queue are taken; retry shortly.", retryAfterSeconds: 1);

    /// <summary>503 when a request was not answered within the configured time.</summary>
    public static IResult TimedOut(TimeSpan timeout) => Unavailable("timeout", "Timed out",
        $"No caption within {timeout.TotalSeconds:0.#} s (Captioner:Batching:RequestTimeoutSeconds); the service is overloaded, retry later.", retryAfterSeconds: 5);

    /// <summary>503 when no decode place or memory came within the wait (<see cref="Intake.DecodeGate"/>).</summary>
    public static IResult DecodeBusy(TimeSpan waited) => Unavailable("decode-busy", "Too busy",
        $"No room to decode the image within {waited.TotalSeconds:0.#} s (other uploads are being decoded); retry shortly.", retryAfterSeconds: 2);

    /// <summary>500 for a caption that failed on our side (the model or the service); logged, no details.</summary>
    public static IResult CaptionFailed() => Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Captioning failed",
        detail: "The service failed to caption this request; the failure is logged. Other requests are not affected; retrying may work.",
        extensions: new Dictionary<string, object?> { ["reason"] = "error" });

    public static IResult ShuttingDown() => Unavailable("shutting-down", "Shutting down",
        "The service is shutting down and takes no new requests; retry on another instance.", retryAfterSeconds: 5);

    /// <summary>503 with Retry-After and a <c>reason</c> (the requests metric's outcome).</summary>
    private static IResult Unavailable(string reason, string title, string detail, int retryAfterSeconds) =>
        new RetryAfter(Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: title, detail: detail,
            extensions: new Dictionary<string, object?> { ["reason"] = reason }), retryAfterSeconds);

    /// <summary>A result with a Retry-After header.</summary>
    private sealed class RetryAfter(IResult inner, int seconds) : IResult, IStatusCodeHttpResult, IValueHttpResult
    {
        public int? StatusCode => (inner as IStatusCodeHttpResult)?.StatusCode;
        public object? Value => (inner as IValueHttpResult)?.Value;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
