using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CaptionService.LoadTest;

public sealed record PoissonOptions(string ApiDll, string Model, double Rate, double Seconds, int MaxTokens, IReadOnlyList<int> MaxAdmitPerStep,
    string DType, string? Output, int Seed = 1, IReadOnlyList<int>? EncoderBlocksPerStep = null);

/// <summary>What one admission setting gave under the open-loop load.</summary>
public sealed record PoissonResult(int MaxAdmit, int Blocks, int Requests, int Failures, double Seconds, double[] Ttft, double[] Tpot, double[] Total)
{
    public double CaptionsPerSecond => (Requests - Failures) / Seconds;
}

/// <summary>
/// Open-loop load, as LLM serving benchmarks measure it: requests arrive at a steady rate (Poisson:
/// exponential gaps from a fixed seed, so every setting gets the same arrivals), whether or not earlier
/// ones are answered, for a bounded time; then the stragglers are awaited. Per request: time to first
/// token (TTFT), time per output token after it (TPOT), total latency; p50 and p99. The service answers
/// whole captions, so TTFT is derived from its own timings: everything before decoding plus one
/// decoding step's share (total - decode + decode / tokens), and TPOT = decode / tokens.
/// </summary>
public static class Poisson
{
    private const string Begin = "<!-- load-test poisson:begin -->", End = "<!-- load-test poisson:end -->";

    public static async Task<int> RunAsync(PoissonOptions o, Action<string> log, CancellationToken cancellationToken)
    {
        var images = Enumerable.Range(0, 4).Select(LoadTest.Picture).ToList();
        string? temporary = null;
        var results = new List<PoissonResult>();
        var started = DateTime.UtcNow;
        string loadBefore = LoadTest.LoadAverage();
        try
        {
            string checkpoint = o.Model switch
            {
                "tiny" => "",
                "full" => temporary = LoadTest.RandomFullSize(),
                _ => throw new ArgumentException($"--model: unknown model '{o.Model}' (tiny or full)"),
            };
            foreach (var (admit, blocks) in o.MaxAdmitPerStep.SelectMany(a => (o.EncoderBlocksPerStep ?? [0]).Select(b => (a, b))))
            {
                var settings = new Dictionary<string, string>
                {
                    ["Captioner__Checkpoint"] = checkpoint,
                    ["Captioner__Device"] = "cpu",
                    ["Captioner__DType"] = o.DType,
                    ["Captioner__Batching__MaxAdmitPerStep"] = admit.ToString(CultureInfo.InvariantCulture),
                    ["Captioner__Batching__EncoderBlocksPerStep"] = blocks.ToString(CultureInfo.InvariantCulture),
                    ["Captioner__Batching__QueueCapacity"] = "4096",
                    ["Captioner__Batching__RequestTimeoutSeconds"] = "600",
                };
                log($"{o.Model}, MaxAdmitPerStep {admit}, EncoderBlocksPerStep {blocks}: starting the service (load average {LoadTest.LoadAverage()})");
                await using var service = await ServiceProcess.StartAsync(o.ApiDll, settings, TimeSpan.FromMinutes(5));
                using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(10) };
                (string, string)[] fields = [("decoding", "greedy"), ("max_tokens", o.MaxTokens.ToString(CultureInfo.InvariantCulture))];
                for (int i = 0; i < 4; i++) await Send(http, images[i], fields); // warm-up
                var result = await OneRun(http, images, fields, o, admit, blocks, cancellationToken);
                results.Add(result);
                log($"  {result.Requests} requests, {result.CaptionsPerSecond:F2} captions/s, TTFT p50/p99 {P(result.Ttft, 0.5):F0}/{P(result.Ttft, 0.99):F0} ms, "
                    + $"TPOT p50/p99 {P(result.Tpot, 0.5):F1}/{P(result.Tpot, 0.99):F1} ms, total p50/p99 {P(result.Total, 0.5):F0}/{P(result.Total, 0.99):F0} ms, {result.Failures} failed");
            }
        }
        finally
        {
            if (temporary is not null) Directory.Delete(Path.GetDirectoryName(temporary)!, recursive: true);
        }
        var markdown = Markdown(results, o, DateTime.UtcNow - started, loadBefore);
        log("");
        log(markdown);
        if (o.Output is not null) LoadTest.ReplaceSection(o.Output, Begin, End, markdown);
        return results.Any(r => r.Failures > 0) ? 1 : 0;
    }

    private static async Task<PoissonResult> OneRun(HttpClient http, IReadOnlyList<byte[]> images, (string, string)[] fields, PoissonOptions o, int admit,
        int blocks, CancellationToken cancellationToken)
    {
        var random = new Random(o.Seed);
        var arrivals = new List<double>();
        for (double t = -Math.Log(1 - random.NextDouble()) / o.Rate; t < o.Seconds; t += -Math.Log(1 - random.NextDouble()) / o.Rate) arrivals.Add(t);
        var ttft = new double[arrivals.Count];
        var tpot = new double[arrivals.Count];
        var total = new double[arrivals.Count];
        int failures = 0;
        var clock = Stopwatch.StartNew();
        var sent = new List<Task>();
        for (int i = 0; i < arrivals.Count; i++)
        {
            var wait = TimeSpan.FromSeconds(arrivals[i]) - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
            int n = i;
            sent.Add(Task.Run(async () =>
            {
                var own = Stopwatch.StartNew();
                var answer = await Send(http, images[n % images.Count], fields);
                total[n] = own.Elapsed.TotalMilliseconds;
                if (answer is not { } a)
                {
                    Interlocked.Increment(ref failures);
                    (ttft[n], tpot[n]) = (double.NaN, double.NaN);
                    return;
                }
                tpot[n] = a.DecodeMs / Math.Max(1, a.Tokens);
                ttft[n] = total[n] - a.DecodeMs + tpot[n];
            }, cancellationToken));
        }
        await Task.WhenAll(sent);
        double seconds = clock.Elapsed.TotalSeconds;
        static double[] Sorted(double[] x) => x.Where(double.IsFinite).Order().ToArray();
        return new PoissonResult(admit, blocks, arrivals.Count, failures, seconds, Sorted(ttft), Sorted(tpot), Sorted(total));
    }

    private static async Task<(int Tokens, double DecodeMs)?> Send(HttpClient http, byte[] image, (string, string)[] fields)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "image.png");
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        using var response = await http.PostAsync("/captions", form);
        if (response.StatusCode != HttpStatusCode.OK) return null;
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (json.RootElement.GetProperty("tokens").GetInt32(), json.RootElement.GetProperty("timings_ms").GetProperty("decode").GetDouble());
    }

    private static double P(double[] sorted, double p) => LoadRun.Percentile(sorted, p);

    private static string Markdown(List<PoissonResult> results, PoissonOptions o, TimeSpan took, string loadBefore)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} CPU cores, model {o.Model}, {o.DType}, in one run of {took.TotalMinutes:F1} min "
            + $"(load average before: {loadBefore}, after: {LoadTest.LoadAverage()}). Open loop: Poisson arrivals at {o.Rate:G3}/s for {o.Seconds:G3} s (seed {o.Seed}, the same arrivals for each setting), "
            + $"greedy, max_tokens {o.MaxTokens}. TTFT and TPOT from the service's own timings (it answers whole captions): TPOT = decode / tokens, TTFT = total - decode + TPOT.");
        s.AppendLine();
        s.AppendLine("| MaxAdmitPerStep | EncoderBlocksPerStep | requests | captions/s | TTFT p50 ms | TTFT p99 ms | TPOT p50 ms | TPOT p99 ms | TPOT p99/p50 | total p50 ms | total p99 ms | failed |");
        s.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
            s.AppendLine(CultureInfo.InvariantCulture, $"| {(r.MaxAdmit == 0 ? "0 (no limit)" : r.MaxAdmit)} | {(r.Blocks == 0 ? "0 (all at once)" : r.Blocks)} | {r.Requests} | {r.CaptionsPerSecond:F2} | {P(r.Ttft, 0.5):F0} | {P(r.Ttft, 0.99):F0} | "
                + $"{P(r.Tpot, 0.5):F1} | {P(r.Tpot, 0.99):F1} | {P(r.Tpot, 0.99) / P(r.Tpot, 0.5):F2} | {P(r.Total, 0.5):F0} | {P(r.Total, 0.99):F0} | {r.Failures} |");
        return s.ToString();
    }
}
