using System.Globalization;

namespace CaptionService.Hub;

/// <summary>
/// Where the Hub is, who we are, and where its files are kept, read from the same environment variables as
/// huggingface_hub so that a user's settings, token and cache carry over:
/// <c>HF_ENDPOINT</c> (default https://huggingface.co); <c>HF_TOKEN</c>, else the file at <c>HF_TOKEN_PATH</c>
/// (default <c>$HF_HOME/token</c>); <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, with <c>HF_HOME</c> defaulting to
/// <c>$XDG_CACHE_HOME/huggingface</c>, else <c>~/.cache/huggingface</c>; <c>HF_HUB_OFFLINE</c> (1, true, yes, on);
/// <c>HF_HUB_ETAG_TIMEOUT</c> and <c>HF_HUB_DOWNLOAD_TIMEOUT</c> in seconds (default 10 each).
/// </summary>
public sealed record HubSettings
{
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    public Uri Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>Sent as <c>Authorization: Bearer</c> to the endpoint (never to another host it redirects to).</summary>
    public string? Token { get; init; }

    /// <summary>Where the token came from ("HF_TOKEN" or the token file), for messages; null without a token.</summary>
    public string? TokenSource { get; init; }

    /// <summary>huggingface_hub's cache: <c>models--OWNER--NAME/{blobs,snapshots,refs}</c>.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>HF_HUB_OFFLINE: no network at all; models come from the cache or not at all.</summary>
    public bool Offline { get; init; }

    /// <summary>For a metadata request (HF_HUB_ETAG_TIMEOUT).</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for the next bytes of a download (HF_HUB_DOWNLOAD_TIMEOUT).</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public static HubSettings FromEnvironment() => From(Environment.GetEnvironmentVariable);

    /// <param name="variable">reads one environment variable (or a configuration key of the same name); null or blank is unset</param>
    /// <exception cref="ArgumentException">a malformed HF_ENDPOINT or timeout, naming the variable</exception>
    public static HubSettings From(Func<string, string?> variable)
    {
        string? Get(string name) => variable(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
        var home = Expand(Get("HF_HOME") ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(UserHome(variable), ".cache"), "huggingface"), variable);
        var cache = Expand(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub"), variable);

        var endpoint = Get("HF_ENDPOINT")?.TrimEnd('/');
        Uri? uri = null;
        if (endpoint is not null && (!Uri.TryCreate(endpoint, UriKind.Absolute, out uri) || uri.Scheme is not ("http" or "https")))
            throw new ArgumentException($"HF_ENDPOINT '{endpoint}' is not an http(s) URL");

        string? token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN");
        string? source = token is null ? null : "HF_TOKEN";
        if (token is null)
        {
            var file = Expand(Get("HF_TOKEN_PATH") ?? Path.Combine(home, "token"), variable);
            if (File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } saved) (token, source) = (saved, file);
        }

        return new HubSettings
        {
            Endpoint = uri ?? DefaultEndpoint,
            Token = token,
            TokenSource = source,
            CacheDirectory = Path.GetFullPath(cache),
            Offline = IsTrue(Get("HF_HUB_OFFLINE") ?? Get("TRANSFORMERS_OFFLINE")),
            MetadataTimeout = Seconds(Get("HF_HUB_ETAG_TIMEOUT"), "HF_HUB_ETAG_TIMEOUT"),
            DownloadTimeout = Seconds(Get("HF_HUB_DOWNLOAD_TIMEOUT"), "HF_HUB_DOWNLOAD_TIMEOUT"),
        };
    }

    /// <summary>huggingface_hub's truthy values.</summary>
    private static bool IsTrue(string? value) => value?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static TimeSpan Seconds(string? value, string name)
    {
        if (value is null) return TimeSpan.FromSeconds(10);
        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : throw new ArgumentException($"{name} '{value}' is not a positive number of seconds");
    }

    private static string UserHome(Func<string, string?> variable) =>
        variable("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static string Expand(string path, Func<string, string?> variable) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal) ? UserHome(variable) + path[1..] : path;
}
