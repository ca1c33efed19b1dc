using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CaptionService.LoadTest;

/// <summary>What one concurrency level gave.</summary>
public sealed record LevelResult(int Concurrency, int Requests, double Seconds, double P50Ms, double P99Ms, double MeanTokens, double MeanBatch, int Failures)
{
    public double CaptionsPerSecond => Requests / Seconds;
}

/// <summary>
/// Closed-loop load: <c>concurrency</c> clients, each sending its next request as soon as the last
/// one is answered, until <c>requests</c> have been sent. Latency is per request, end to end.
/// </summary>
public static partial class LoadRun
{
    public static async Task<LevelResult> RunAsync(HttpClient http, IReadOnlyList<byte[]> images, int concurrency, int requests,
        IReadOnlyList<(string Name, string Value)> fields)
    {
        var before = await BatchStats(http);
        var latencies = new double[requests];
        var tokens = new int[requests];
        int next = -1, failures = 0;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                var clock = Stopwatch.StartNew();
                using var response = await http.PostAsync("/captions", Form(images[i % images.Count], fields));
                latencies[i] = clock.Elapsed.TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK) { Interlocked.Increment(ref failures); continue; }
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                tokens[i] = json.RootElement.GetProperty("tokens").GetInt32();
            }
        }));
        wall.Stop();
        var after = await BatchStats(http);
        Array.Sort(latencies);
        double meanBatch = after.Count > before.Count ? (after.Sum - before.Sum) / (after.Count - before.Count) : 0;
        return new LevelResult(concurrency, requests, wall.Elapsed.TotalSeconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
            tokens.Average(), meanBatch, failures);
    }

    private static MultipartFormDataContent Form(byte[] image, IReadOnlyList<(string Name, string Value)> fields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "image.png");
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        return form;
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The service's own count of decode steps and of sequences decoded (its /metrics histogram).</summary>
    private static async Task<(double Sum, double Count)> BatchStats(HttpClient http)
    {
        var text = await http.GetStringAsync("/metrics");
        double Read(string name) => BatchMetric().Matches(text).Where(m => m.Groups[1].Value == name)
            .Sum(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        return (Read("sum"), Read("count"));
    }

    [GeneratedRegex(@"^captioner_batch_size_(sum|count)(?:\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex BatchMetric();
}
