using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>Endpoint metadata: with API keys configured, the endpoint needs one (/captions, /model, /metrics).</summary>
public sealed class RequiresApiKey
{
    public static readonly RequiresApiKey Instance = new();
}

/// <summary>
/// API keys, checked before anything else about a request (before its body is read). When
/// <see cref="CaptionerOptions.ApiKeys"/> holds keys, a request to an endpoint marked
/// <see cref="RequiresApiKey"/> must carry one of them in <c>X-Api-Key</c> (or
/// <c>Authorization: Bearer</c>), else 401. Each missing or wrong key costs its client address one of
/// <see cref="CaptionerOptions.AuthFailuresPerMinute"/>; once they are spent, the address gets 429
/// whatever key it sends, so keys cannot be guessed at speed (a right guess would look the same).
/// A valid key becomes the client's identity for the rate limit (<see cref="ClientIdentity"/>).
/// Keys are compared as SHA-256 hashes in constant time, which hides their lengths too.
/// </summary>
public sealed class AccessControl
{
    public const string KeyHeader = "X-Api-Key";

    /// <summary>Shorter keys are refused at start-up: they could be guessed.</summary>
    public const int MinKeyLength = 16;

    private readonly RequestDelegate next;
    private readonly byte[][] keys;
    private readonly PartitionedRateLimiter<string> failures;
    private readonly CaptionMetrics metrics;
    private readonly TimeSpan oneFailure;   // the time a client address earns one more failed attempt in

    public AccessControl(RequestDelegate next, IOptions<CaptionerOptions> options, CaptionMetrics metrics)
    {
        this.next = next;
        this.metrics = metrics;
        keys = options.Value.ApiKeys.Select(Hash).ToArray();
        int perMinute = Math.Max(1, options.Value.AuthFailuresPerMinute);
        oneFailure = TimeSpan.FromMinutes(1.0 / perMinute);
        failures = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perMinute,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (keys.Length == 0 || context.GetEndpoint()?.Metadata.GetMetadata<RequiresApiKey>() is null)
        {
            await next(context);
            return;
        }
        var address = ClientIdentity.Address(context);
        // Whole failures left (the bucket refills continuously; a probe of 0 permits would pass on a fraction).
        if (failures.GetStatistics(address) is { CurrentAvailablePermits: < 1 })
        {
            await Refuse(context, StatusCodes.Status429TooManyRequests, "Too many failed API keys", "auth-throttled",
                "Too many requests from this address came without a valid API key; wait before trying again.", oneFailure);
            return;
        }
        var given = Key(context.Request);
        int match = given.Length == 0 ? -1 : Match(Hash(given));
        if (match < 0)
        {
            failures.AttemptAcquire(address).Dispose();
            await Refuse(context, StatusCodes.Status401Unauthorized, given.Length == 0 ? "API key required" : "Wrong API key", "unauthorized",
                given.Length == 0 ? $"Send one of the service's API keys in the {KeyHeader} header." : $"The {KeyHeader} header does not hold one of this service's API keys.",
                retryAfter: null);
            return;
        }
        ClientIdentity.SetKey(context, match);
        await next(context);
    }

    /// <summary>The key sent: <c>X-Api-Key</c>, else the token of <c>Authorization: Bearer</c> (what Prometheus can send).</summary>
    private static string Key(HttpRequest request)
    {
        var key = request.Headers[KeyHeader].ToString();
        if (key.Length > 0) return key;
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization["Bearer ".Length..].Trim() : "";
    }

    /// <summary>The index of the matching key, or -1; every key is compared, whichever matches.</summary>
    private int Match(byte[] given)
    {
        int match = -1;
        for (int i = 0; i < keys.Length; i++)
            if (CryptographicOperations.FixedTimeEquals(given, keys[i])) match = i;
        return match;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private Task Refuse(HttpContext context, int status, string title, string reason, string detail, TimeSpan? retryAfter)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<CaptionIntake>() is not null) metrics.Request(reason);
        if (retryAfter is { } wait)
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return Results.Problem(statusCode: status, title: title, detail: detail,
            extensions: new Dictionary<string, object?> { ["reason"] = reason }).ExecuteAsync(context);
    }
}

/// <summary>Who a client is, for the rate limit: its valid API key when keys are configured (the
/// key's position, never the key), else its address. Never a header it chose itself.</summary>
public static class ClientIdentity
{
    private const string Item = "captioner.client";

    /// <summary>The client's address: the connection's, or the one forwarded by a trusted proxy
    /// (<see cref="TrustedProxies"/> rewrites the connection's address before this runs).</summary>
    public static string Address(HttpContext context) => "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    internal static void SetKey(HttpContext context, int index) => context.Items[Item] = $"key:{index}";

    public static string Of(HttpContext context) => context.Items[Item] as string ?? Address(context);
}
