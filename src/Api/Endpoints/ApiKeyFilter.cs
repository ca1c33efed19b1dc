using System.Security.Cryptography;
using System.Text;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// When <see cref="CaptionerOptions.ApiKey"/> is set, caption requests must carry it in the
/// <c>X-Api-Key</c> header (401 otherwise). The comparison takes the same time wherever the keys
/// differ, and hashing both first hides the key's length.
/// </summary>
public sealed class ApiKeyFilter(IOptions<CaptionerOptions> options) : IEndpointFilter
{
    public const string Header = "X-Api-Key";

    private readonly byte[]? expected = string.IsNullOrEmpty(options.Value.ApiKey) ? null : Hash(options.Value.ApiKey);

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (expected is null) return next(context);
        var given = context.HttpContext.Request.Headers[Header].ToString();
        if (given.Length > 0 && CryptographicOperations.FixedTimeEquals(Hash(given), expected)) return next(context);
        return ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: given.Length == 0 ? "API key required" : "Wrong API key",
            detail: given.Length == 0 ? $"Send the service's API key in the {Header} header." : $"The {Header} header does not hold this service's API key.",
            extensions: new Dictionary<string, object?> { ["reason"] = "unauthorized" }));
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
