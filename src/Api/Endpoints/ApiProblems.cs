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

    public static IResult UploadTooLarge(long bytes, long limit) => Results.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Upload too large",
        detail: $"The image is {bytes:N0} bytes; at most {limit:N0} are accepted.",
        extensions: new Dictionary<string, object?> { ["reason"] = "too-large", ["max_upload_bytes"] = limit });

    /// <summary>Empty 400, TooLarge 413, TooManyPixels 413, UnsupportedFormat 415, Corrupt 400; the message is meant for the client.</summary>
    public static IResult ImageRejected(ImageRejectedException e)
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
        return Results.Problem(statusCode: status, title: title, detail: e.Message,
            extensions: new Dictionary<string, object?> { ["reason"] = reason });
    }

    /// <summary>503 while the model loads (or after it failed to).</summary>
    public static IResult NotReady(string state) => Results.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "Model not ready",
        detail: $"The model is not ready yet ({state}); retry when GET /health/ready answers 200.");
}
