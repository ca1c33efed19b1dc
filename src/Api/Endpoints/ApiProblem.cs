using System.Globalization;
using Microsoft.AspNetCore.Mvc;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// Every error answer of the API: an RFC 7807 problem (<see cref="HttpValidationProblemDetails"/> when
/// it names bad form fields), with a <c>reason</c> for the requests metric and, for a 503, a
/// Retry-After header. One type, so that endpoints return <c>Results&lt;Ok&lt;T&gt;, ApiProblem&gt;</c>.
/// </summary>
public sealed class ApiProblem : IResult, IStatusCodeHttpResult, IValueHttpResult, IContentTypeHttpResult
{
    private readonly IResult inner;

    private ApiProblem(IResult inner, ProblemDetails problem, int? retryAfterSeconds)
    {
        this.inner = inner;
        Problem = problem;
        RetryAfterSeconds = retryAfterSeconds;
    }

    public ProblemDetails Problem { get; }

    /// <summary>Seconds sent in Retry-After, when the client may try again later.</summary>
    public int? RetryAfterSeconds { get; }

    public int? StatusCode => Problem.Status;
    public object? Value => Problem;
    public string? ContentType => "application/problem+json";

    /// <summary>A problem with a <c>reason</c> (the requests metric's outcome).</summary>
    public static ApiProblem Of(int status, string title, string detail, string reason, int? retryAfterSeconds = null,
        IDictionary<string, object?>? more = null)
    {
        var extensions = new Dictionary<string, object?> { ["reason"] = reason };
        foreach (var (key, value) in more ?? new Dictionary<string, object?>()) extensions[key] = value;
        var result = TypedResults.Problem(statusCode: status, title: title, detail: detail, extensions: extensions);
        return new ApiProblem(result, result.ProblemDetails, retryAfterSeconds);
    }

    /// <summary>400 naming every bad form field under <c>errors</c>.</summary>
    public static ApiProblem Validation(IDictionary<string, string[]> errors, string title, string detail)
    {
        var result = TypedResults.ValidationProblem(errors, detail: detail, title: title,
            extensions: new Dictionary<string, object?> { ["reason"] = "bad-request" });
        return new ApiProblem(result, result.ProblemDetails, null);
    }

    /// <summary>A copy of this problem with another status (the body's <c>status</c> too) and one more member.</summary>
    public ApiProblem With(int status, string member, object? value)
    {
        var copy = Problem is HttpValidationProblemDetails validation ? new HttpValidationProblemDetails(validation.Errors) : new ProblemDetails();
        // Another status, another type: left out, it is filled in for the status when written.
        (copy.Type, copy.Title, copy.Detail, copy.Instance, copy.Status) = (status == Problem.Status ? Problem.Type : null, Problem.Title, Problem.Detail, Problem.Instance, status);
        foreach (var (key, extension) in Problem.Extensions) copy.Extensions[key] = extension;
        copy.Extensions[member] = value;
        return new ApiProblem(TypedResults.Problem(copy), copy, RetryAfterSeconds);
    }

    public Task ExecuteAsync(HttpContext httpContext)
    {
        // An endpoint that speaks another protocol words its problems its own way (InferenceEndpoints).
        var problem = httpContext.GetEndpoint()?.Metadata.GetMetadata<IProblemWording>()?.Reword(this) ?? this;
        if (problem.RetryAfterSeconds is { } seconds)
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return problem.inner.ExecuteAsync(httpContext);
    }
}

/// <summary>Endpoint metadata: how that endpoint's problems are worded (whoever makes them: the
/// endpoint, the API key check, the rate limit, the intake gate).</summary>
public interface IProblemWording
{
    /// <summary>The problem as this endpoint answers it; the same one when nothing changes.</summary>
    ApiProblem Reword(ApiProblem problem);
}
