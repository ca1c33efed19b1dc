using Microsoft.AspNetCore.Mvc;

namespace CaptionService.Api.Telemetry;

/// <summary>Counts every caption request by outcome (<see cref="CaptionMetrics.Request"/>): ok, the
/// problem's <c>reason</c> when it gives one, else a name for its status code.</summary>
public sealed class RequestOutcomeFilter(CaptionMetrics metrics) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            var result = await next(context);
            metrics.Request(Outcome(result));
            return result;
        }
        catch (OperationCanceledException) when (context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            metrics.Request("cancelled");
            throw;
        }
        catch
        {
            metrics.Request("error");
            throw;
        }
    }

    /// <summary>The outcome a result counts as: "ok", its problem's reason, else a name for its status.</summary>
    public static string Outcome(object? result)
    {
        if (result is IValueHttpResult { Value: ProblemDetails problem }
            && problem.Extensions.TryGetValue("reason", out var reason) && reason is string text)
            return text;
        return (result as IStatusCodeHttpResult)?.StatusCode switch
        {
            null or StatusCodes.Status200OK => "ok",
            StatusCodes.Status400BadRequest => "bad-request",
            StatusCodes.Status413PayloadTooLarge => "too-large",
            StatusCodes.Status415UnsupportedMediaType => "unsupported-format",
            StatusCodes.Status503ServiceUnavailable => "unavailable",
            _ => "error",
        };
    }
}
