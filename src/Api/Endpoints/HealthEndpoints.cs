using System.Text.Json;
using CaptionService.Api.Contracts;
using CaptionService.Api.Hosting;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CaptionService.Api.Endpoints;

public static class HealthEndpoints
{
    /// <summary>
    /// <c>/health/live</c>: the process answers (always 200). <c>/health/ready</c>: 200 once the model
    /// has loaded and captioned its warm-up image, 503 before (or when loading failed).
    /// </summary>
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteJson })
            .WithTags("Health").WithSummary("Liveness: always 200 while the process runs");
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ModelReadyHealthCheck.Tag),
            ResponseWriter = WriteJson,
        }).WithTags("Health").WithSummary("Readiness: 200 after the warm-up caption, else 503");
        return app;
    }

    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new HealthResponse(report.Status.ToString(),
            report.Entries.ToDictionary(e => e.Key, e => new HealthCheckResponse(e.Value.Status.ToString(), e.Value.Description, e.Value.Data.Count > 0 ? e.Value.Data : null)));
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web));
    }
}
