using CaptionService.Model.Imaging;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// The RFC 7807 answers for bad requests. Each names the problem in <c>detail</c> (and, for a bad
/// form field, under <c>errors</c>); none carries exception internals.
/// </summary>
public static class ApiProblems
{
    /// <summary>400 about one form field.</summary>
    public static ApiProblem Field(string field, string message) =>
        ApiProblem.Validation(new Dictionary<string, string[]> { [field] = [message] }, $"Invalid form field '{field}'", message);

    /// <summary>400 listing every bad decoding option by field.</summary>
    public static ApiProblem Fields(IDictionary<string, string[]> errors) =>
        ApiProblem.Validation(errors,
            errors.Count == 1 ? $"Invalid form field '{errors.Keys.First()}'" : "Invalid form fields",
            string.Join("; ", errors.SelectMany(e => e.Value)));

    /// <param name="which">"The image", or which image of a batch (<see cref="Intake.ImageUpload.Describe"/>)</param>
    public static ApiProblem UploadTooLarge(string which, long bytes, long limit) => ApiProblem.Of(
        StatusCodes.Status413PayloadTooLarge, "Upload too large", $"{which} is {bytes:N0} bytes; at most {limit:N0} are accepted.",
        "too-large", more: new Dictionary<string, object?> { ["max_upload_bytes"] = limit });

    /// <summary>Empty 400, TooLarge 413, TooManyPixels 413, UnsupportedFormat 415, Corrupt 400; the message is meant for the client.</summary>
    /// <param name="which">null for a single upload, else which image of a batch (<see cref="Intake.ImageUpload.Describe"/>)</param>
    public static ApiProblem ImageRejected(ImageRejectedException e, string? which = null)
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
        return ApiProblem.Of(status, title, which is null ? e.Message : $"{which}: {e.Message}", reason);
    }

    /// <summary>503 while the model loads (or after it failed to), or once shutdown has begun.</summary>
    public static ApiProblem NotReady(string state) => Unavailable("not-ready", "Model not ready",
        $"The model is not ready ({state}); retry when GET /health/ready answers 200.", retryAfterSeconds: 5);

    /// <summary>503 at once when the queue is full.</summary>
    public static ApiProblem QueueFull(int capacity) => Unavailable("queue-full", "Too busy",
        $"All {capacity} places in the queue are taken; retry shortly.", retryAfterSeconds: 1);

    /// <summary>503 when a request was not answered within the configured time.</summary>
    public static ApiProblem TimedOut(TimeSpan timeout) => Unavailable("timeout", "Timed out",
        $"No caption within {timeout.TotalSeconds:0.#} s (Captioner:Batching:RequestTimeoutSeconds); the service is overloaded, retry later.", retryAfterSeconds: 5);

    /// <summary>503 when no decode place or memory came within the wait (<see cref="Intake.DecodeGate"/>).</summary>
    public static ApiProblem DecodeBusy(TimeSpan waited) => Unavailable("decode-busy", "Too busy",
        $"No room to decode the image within {waited.TotalSeconds:0.#} s (other uploads are being decoded); retry shortly.", retryAfterSeconds: 2);

    /// <summary>500 for a caption that failed on our side (the model or the service); logged, no details.</summary>
    public static ApiProblem CaptionFailed() => ApiProblem.Of(StatusCodes.Status500InternalServerError, "Captioning failed",
        "The service failed to caption this request; the failure is logged. Other requests are not affected; retrying may work.", "error");

    public static ApiProblem ShuttingDown() => Unavailable("shutting-down", "Shutting down",
        "The service is shutting down and takes no new requests; retry on another instance.", retryAfterSeconds: 5);

    /// <summary>413 for a request body over the limit (<see cref="Intake.UploadLimits.RequestBodyLimit"/>), declared or read.</summary>
    public static ApiProblem RequestTooLarge(long limit, int maxImages, long maxImageBytes) => ApiProblem.Of(StatusCodes.Status413PayloadTooLarge,
        "Upload too large", $"The request is larger than the {limit:N0} bytes accepted (up to {maxImages} images of at most {maxImageBytes:N0} bytes each, plus the form).",
        "too-large");

    /// <summary>413 for an image body (raw or JSON) over <see cref="Intake.UploadLimits.InferenceBodyLimit"/>, declared or read.</summary>
    public static ApiProblem ImageBodyTooLarge(long limit, long maxImageBytes) => ApiProblem.Of(StatusCodes.Status413PayloadTooLarge,
        "Upload too large", $"The request is larger than the {limit:N0} bytes accepted (one image of at most {maxImageBytes:N0} bytes, raw or base64 in JSON).",
        "too-large");

    /// <summary>408 when the body did not arrive within Captioner:UploadTimeoutSeconds.</summary>
    public static ApiProblem UploadTooSlow(double seconds) => ApiProblem.Of(StatusCodes.Status408RequestTimeout, "Upload too slow",
        $"The request's body did not arrive within {seconds:0.#} s (Captioner:UploadTimeoutSeconds).", "upload-timeout");

    /// <summary>400 for a body that is not a readable multipart form.</summary>
    public static ApiProblem MalformedForm() => ApiProblem.Of(StatusCodes.Status400BadRequest, "Malformed form",
        $"The multipart/form-data body could not be read (a wrong boundary, cut short, or over the form's limits); send the image as a file field named '{Intake.FormFields.Image}'.",
        "bad-request");

    /// <summary>401: no API key, or not one of the service's.</summary>
    public static ApiProblem Unauthorized(bool keyGiven) => ApiProblem.Of(StatusCodes.Status401Unauthorized,
        keyGiven ? "Wrong API key" : "API key required",
        keyGiven ? $"The API key sent ({AccessControl.KeyHeader} header or Authorization: Bearer) is not one of this service's keys."
            : $"Send one of the service's API keys in the {AccessControl.KeyHeader} header (or Authorization: Bearer).",
        "unauthorized");

    /// <summary>429 for an address that sent too many missing or wrong keys.</summary>
    public static ApiProblem AuthThrottled(TimeSpan retryAfter) => ApiProblem.Of(StatusCodes.Status429TooManyRequests, "Too many failed API keys",
        "Too many requests from this address came without a valid API key; wait before trying again.", "auth-throttled", Seconds(retryAfter));

    /// <summary>429 over Captioner:RateLimitPerMinute.</summary>
    public static ApiProblem RateLimited(int perMinute, TimeSpan retryAfter) => ApiProblem.Of(StatusCodes.Status429TooManyRequests, "Too many requests",
        $"At most {perMinute} caption requests per minute per client; retry after {retryAfter.TotalSeconds:0} s.", "rate-limited", Seconds(retryAfter));

    private static int Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));

    /// <summary>503 with Retry-After and a <c>reason</c> (the requests metric's outcome).</summary>
    private static ApiProblem Unavailable(string reason, string title, string detail, int retryAfterSeconds) =>
        ApiProblem.Of(StatusCodes.Status503ServiceUnavailable, title, detail, reason, retryAfterSeconds);
}
