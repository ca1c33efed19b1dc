using System.Globalization;
using System.Threading.RateLimiting;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using Microsoft.AspNetCore.RateLimiting;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// Per-client rate limiting of caption requests with ASP.NET Core's rate limiter: a token bucket of
/// <see cref="CaptionerOptions.RateLimitPerMinute"/> requests per minute for each client
/// (<see cref="ClientIdentity"/>: its valid API key when keys are configured, else its address; a
/// header the client chooses is never a partition, or a new value per request would escape the
/// limit). It runs after <see cref="AccessControl"/> and before the body is read. Off (no limit)
/// when the setting is 0. Refused requests get 429 with Retry-After as a problem.
/// </summary>
public static class ClientRateLimit
{
    public const string Policy = "per-client";

    public static IServiceCollection AddClientRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Policy, context =>
            {
                int perMinute = Unvalidated(context);
                if (perMinute <= 0) return RateLimitPartition.GetNoLimiter("all");
                return RateLimitPartition.GetTokenBucketLimiter(ClientIdentity.Of(context), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = perMinute,
                    TokensPerPeriod = perMinute,
                    ReplenishmentPeriod = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var http = rejected.HttpContext;
                http.RequestServices.GetRequiredService<CaptionMetrics>().Request("rate-limited");
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"At most {Unvalidated(http)} caption requests per minute per client; retry after {retryAfter.TotalSeconds:0} s.",
                    extensions: new Dictionary<string, object?> { ["reason"] = "rate-limited" }).ExecuteAsync(http);
            };
        });
        return services;
    }

    private static int Unvalidated(HttpContext context) =>
        context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<CaptionerOptions>>().Value.RateLimitPerMinute;
}
