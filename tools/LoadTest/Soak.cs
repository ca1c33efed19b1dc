using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.LoadTest;

/// <param name="BaselineSeconds">good traffic alone, for the latency it has without hostile traffic</param>
/// <param name="MixedSeconds">good traffic with the hostile stream</param>
/// <param name="GoodClients">each sends a request, waits for it and <paramref name="GoodPauseMs"/>, and again</param>
/// <param name="HostileClients">each cycles through <see cref="Hostile.Cases"/> as fast as it is answered</param>
/// <param name="BombSide">side of the single-colour PNG bombs (6300: 39.7 MP, just under the default 40 MP limit)</param>
/// <param name="Cases">only the hostile cases whose names contain one of these (all when null or empty)</param>
public sealed record SoakOptions(string ApiDll, double BaselineSeconds = 30, double MixedSeconds = 60, int GoodClients = 4, int HostileClients = 3,
    int GoodPauseMs = 200, int BombSide = 6300, double IdleSeconds = 10, string? Output = null, IReadOnlyList<string>? Cases = null);

/// <summary>The service's memory at one moment of the run: its resident set, and what the .NET
/// garbage collector had committed for the managed heap after its last collection.</summary>
public sealed record MemorySample(double Seconds, string Phase, double ResidentMiB, double ManagedMiB);

/// <summary>The good requests of one phase.</summary>
public sealed record SoakPhase(string Name, double Seconds, int Answered, int Failed, double P50Ms, double P99Ms);

public sealed record SoakReport(
    SoakPhase Baseline, SoakPhase Mixed, IReadOnlyList<string> Failures,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Hostile,
    double StartMiB, double AfterGoodMiB, double PeakMiB, double EndMiB, long LiveTensorsAtEnd, IReadOnlyList<MemorySample> Memory, string Markdown)
{
    /// <summary>No good request failed, no hostile one got a 5xx other than 503, and no tensor was left behind.</summary>
    public bool Passed => Baseline.Failed == 0 && Mixed.Failed == 0 && LiveTensorsAtEnd == 0
        && !Hostile.Values.SelectMany(answers => answers.Keys).Any(a => a.StartsWith('5') && a != "503");
}

/// <summary>
/// The service in its own process on loopback (API keys and a rate limit on, loopback trusted as a
/// proxy so that clients can have addresses of their own), good clients with mixed options whose
/// every caption is checked against the one it got alone, first by themselves and then with a
/// stream of hostile requests (<see cref="Hostile"/>); then 10 s idle. Reports good requests
/// answered and failed, p50/p99 in both phases, every hostile case's answers, the service's resident
/// memory at start, peak and end and every 30 s (with the managed heap's share, so that growth can
/// be told apart as managed or native), and the tensors its scheduler holds at the end.
/// </summary>
public static class Soak
{
    public const string Begin = "<!-- soak:begin -->", End = "<!-- soak:end -->";

    /// <summary>Per key: above what a good client sends (one request at a time, with a pause), below what the flood sends.</summary>
    private const int RateLimitPerMinute = 600;

    /// <summary>Instead of the default 60 s, so that stalled uploads are cut within the run.</summary>
    private const int UploadTimeoutSeconds = 5;

    public static async Task<SoakReport> RunAsync(SoakOptions o, Action<string> log, CancellationToken cancellationToken)
    {
        var keys = Enumerable.Range(0, o.GoodClients).Select(i => $"good-client-{i}-0123456789abcdef").ToArray();
        const string hostileKey = "hostile-client-0123456789abcdef", floodKey = "flooding-client-0123456789abcdef";
        var settings = new Dictionary<string, string>
        {
            ["Captioner__Device"] = "cpu",
            ["Captioner__RateLimitPerMinute"] = RateLimitPerMinute.ToString(CultureInfo.InvariantCulture),
            ["Captioner__TrustedProxies__0"] = "127.0.0.1",
            ["Captioner__UploadTimeoutSeconds"] = UploadTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, i) in keys.Append(hostileKey).Append(floodKey).Select((k, i) => (k, i))) settings[$"Captioner__ApiKeys__{i}"] = key;
        var loadBefore = LoadTest.LoadAverage();
        var clock = Stopwatch.StartNew();
        log("starting the service");
        await using var service = await ServiceProcess.StartAsync(o.ApiDll, settings, TimeSpan.FromMinutes(5));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(2) };
        var hostile = new Hostile(service.Address, http, hostileKey, floodKey, o.BombSide);
        var cases = hostile.Cases.Where(c => o.Cases is not { Count: > 0 } || o.Cases.Any(part => c.Name.Contains(part, StringComparison.OrdinalIgnoreCase))).ToList();
        if (cases.Count == 0) throw new ArgumentException($"no hostile case's name contains any of: {string.Join(", ", o.Cases!)}");

        // What every good request must answer: its caption alone, before anything else runs.
        var requests = GoodRequests();
        var expected = new List<string>();
        foreach (var (image, fields) in requests)
        {
            using var response = await http.SendAsync(Good(image, fields, keys[0], "10.0.0.1"), cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"warm-up request failed: {(int)response.StatusCode} {body}");
            expected.Add(Caption(body));
        }
        await Task.Delay(1000, cancellationToken);
        double startMiB = ProcessMemory.ResidentMiB(service.Id);
        ProcessMemory.ResetPeak(service.Id);

        var memory = new ConcurrentQueue<MemorySample>();
        string phase = "good requests only";
        using var stopSampling = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30));
            try
            {
                while (await timer.WaitForNextTickAsync(stopSampling.Token)) memory.Enqueue(await Sample(Volatile.Read(ref phase)));
            }
            catch (OperationCanceledException) { }
        });
        async Task<MemorySample> Sample(string name) => new(clock.Elapsed.TotalSeconds, name, ProcessMemory.ResidentMiB(service.Id),
            (await Metric(http, keys[0], "dotnet_gc_last_collection_memory_committed_size_bytes") ?? double.NaN) / (1 << 20));

        var failures = new ConcurrentQueue<string>();
        var hostileAnswers = new ConcurrentDictionary<(string Case, string Answer), int>();
        log($"good traffic alone, {o.BaselineSeconds:0} s");
        var baseline = await Phase("good requests only", o.BaselineSeconds, withHostile: false);
        double afterGoodMiB = ProcessMemory.ResidentMiB(service.Id);
        log($"good traffic with the hostile stream, {o.MixedSeconds:0} s");
        Volatile.Write(ref phase, "good and hostile");
        var mixed = await Phase("good requests with the hostile stream", o.MixedSeconds, withHostile: true);

        log($"idle, {o.IdleSeconds:0} s");
        Volatile.Write(ref phase, "idle");
        await Task.Delay(TimeSpan.FromSeconds(o.IdleSeconds), cancellationToken);
        await stopSampling.CancelAsync();
        await sampling;
        var end = await Sample("end");
        memory.Enqueue(end);
        double peakMiB = ProcessMemory.PeakMiB(service.Id);
        long live = (long)(await Metric(http, keys[0], "captioner_tensors_live") ?? -1);
        var answered = hostileAnswers.GroupBy(h => h.Key.Case)
            .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<string, int>)g.ToDictionary(x => x.Key.Answer, x => x.Value));
        var report = new SoakReport(baseline, mixed, failures.ToList(), answered, startMiB, afterGoodMiB, peakMiB, end.ResidentMiB, live, memory.ToList(), "");
        report = report with { Markdown = Markdown(report, o, loadBefore, clock.Elapsed) };
        if (o.Output is not null) LoadTest.ReplaceSection(o.Output, Begin, End, report.Markdown);
        return report;

        async Task<SoakPhase> Phase(string name, double seconds, bool withHostile)
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(TimeSpan.FromSeconds(seconds));
            var latencies = new ConcurrentBag<double>();
            int answered = 0, failed = 0;
            var good = Enumerable.Range(0, o.GoodClients).Select(async client =>
            {
                for (int i = client; !stop.IsCancellationRequested; i++)
                {
                    var (image, fields) = requests[i % requests.Count];
                    var timer = Stopwatch.StartNew();
                    string? problem;
                    try
                    {
                        using var response = await http.SendAsync(Good(image, fields, keys[client], $"10.0.0.{client + 1}"), cancellationToken);
                        var body = await response.Content.ReadAsStringAsync(cancellationToken);
                        problem = response.StatusCode != HttpStatusCode.OK ? $"{(int)response.StatusCode} {body}"
                            : Caption(body) != expected[i % requests.Count] ? $"caption '{Caption(body)}' instead of '{expected[i % requests.Count]}'" : null;
                    }
                    catch (HttpRequestException e)
                    {
                        problem = "connection failed: " + e.Message;
                    }
                    latencies.Add(timer.Elapsed.TotalMilliseconds);
                    Interlocked.Increment(ref answered);
                    if (problem is not null)
                    {
                        Interlocked.Increment(ref failed);
                        failures.Enqueue($"{name}, client {client}: {problem}");
                    }
                    try { await Task.Delay(o.GoodPauseMs, stop.Token); } catch (OperationCanceledException) { }
                }
            });
            var attackers = !withHostile ? [] : Enumerable.Range(0, o.HostileClients).Select(async worker =>
            {
                for (int i = worker * cases.Count / o.HostileClients; !stop.IsCancellationRequested; i++)
                {
                    var (caseName, send) = cases[i % cases.Count];
                    IReadOnlyList<string> answers;
                    try
                    {
                        answers = await send($"203.0.113.{worker + 1}");
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or SocketException)
                    {
                        answers = [$"connection failed ({e.GetType().Name})"];
                    }
                    foreach (var answer in answers) hostileAnswers.AddOrUpdate((caseName, answer), 1, (_, n) => n + 1);
                }
            });
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(good.Concat(attackers));
            var sorted = latencies.ToArray();
            Array.Sort(sorted);
            return new SoakPhase(name, clock.Elapsed.TotalSeconds, answered, failed, LoadRun.Percentile(sorted, 0.5), LoadRun.Percentile(sorted, 0.99));
        }
    }

    /// <summary>Deterministic requests of every strategy (greedy, beam, seeded sampling) on five pictures, one of them a 1 MP JPEG.</summary>
    private static List<(byte[] Image, (string, string)[] Fields)> GoodRequests()
    {
        var pictures = Enumerable.Range(0, 4).Select(LoadTest.Picture).ToList();
        using (var photo = new Image<Rgb24>(1000, 1000))
        {
            photo.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (int x = 0; x < row.Length; x++) row[x] = new Rgb24((byte)(x / 4), (byte)(y / 4), (byte)((x + y) / 8));
                }
            });
            using var jpeg = new MemoryStream();
            photo.SaveAsJpeg(jpeg);
            pictures.Add(jpeg.ToArray());
        }
        (string, string)[][] options =
        [
            [("decoding", "greedy")],
            [("decoding", "beam"), ("num_beams", "3")],
            [("decoding", "sample"), ("seed", "11"), ("temperature", "0.9"), ("top_p", "0.9")],
        ];
        return pictures.SelectMany((p, i) => options.Select((f, j) => (p, f)).Skip(i % 3).Take(2)).ToList();
    }

    private static HttpRequestMessage Good(byte[] image, (string, string)[] fields, string key, string address)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "image", "picture");
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        return new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = form }.With(key, address);
    }

    private static string Caption(string body) => JsonDocument.Parse(body).RootElement.GetProperty("caption").GetString() ?? "";

    /// <summary>One value from the service's Prometheus scrape (null when it has none).</summary>
    private static async Task<double?> Metric(HttpClient http, string key, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Add("X-Api-Key", key);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var match = Regex.Match(text, $@"^{Regex.Escape(name)}(?:\{{[^}}]*\}})? ([0-9.eE+-]+)", RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private static string Markdown(SoakReport r, SoakOptions o, string loadBefore, TimeSpan took)
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        var casesArgument = o.Cases is { Count: > 0 } ? " --cases " + string.Join(' ', o.Cases.Select(q => $"\"{q}\"")) : "";
        s.AppendLine(c, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} CPU cores in one run of {took.TotalMinutes:F1} min "
            + $"(load average before: {loadBefore}; after: {LoadTest.LoadAverage()}). `load-test soak --baseline-seconds {o.BaselineSeconds:0} "
            + $"--mixed-seconds {o.MixedSeconds:0} --good-clients {o.GoodClients} --hostile-clients {o.HostileClients} --bomb-side {o.BombSide}{casesArgument}`: the built-in "
            + $"checkpoint on the CPU, default settings plus {o.GoodClients + 2} API keys, a rate limit of {RateLimitPerMinute} per key per minute, "
            + $"an upload deadline of {UploadTimeoutSeconds} s and loopback trusted as a proxy (every client has an address of its own); "
            + $"{(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { } arenas ? $"MALLOC_ARENA_MAX={arenas}" : "MALLOC_ARENA_MAX not set")}. Each good client sends greedy, beam or seeded-sampling "
            + $"requests on 224 px PNGs and a 1 MP JPEG, pausing {o.GoodPauseMs} ms between them; each answer must be 200 with the caption the same "
            + $"request got alone before the run.");
        s.AppendLine();
        s.AppendLine("| phase | seconds | good requests | failed | p50 ms | p99 ms |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var p in new[] { r.Baseline, r.Mixed })
            s.AppendLine(c, $"| {p.Name} | {p.Seconds:F0} | {p.Answered} | {p.Failed} | {p.P50Ms:F0} | {p.P99Ms:F0} |");
        s.AppendLine();
        s.AppendLine(c, $"Hostile requests ({o.HostileClients} clients, each cycling through the cases as fast as it is answered):");
        s.AppendLine();
        s.AppendLine("| case | requests | answers |");
        s.AppendLine("| --- | ---: | --- |");
        foreach (var (name, answers) in r.Hostile.OrderBy(h => h.Key, StringComparer.Ordinal))
            s.AppendLine(c, $"| {name} | {answers.Values.Sum()} | {string.Join(", ", answers.OrderByDescending(a => a.Value).Select(a => $"{a.Key} x {a.Value}"))} |");
        s.AppendLine();
        s.AppendLine(c, $"Service memory (resident set): {r.StartMiB:F0} MiB at the start (after the warm-up), {r.AfterGoodMiB:F0} MiB after the good "
            + $"requests alone, {r.PeakMiB:F0} MiB at the peak, "
            + $"{r.EndMiB:F0} MiB at the end ({o.IdleSeconds:0} s after the last request). Tensors held by the scheduler at the end: {r.LiveTensorsAtEnd}.");
        s.AppendLine();
        s.AppendLine("| s | phase | resident MiB | managed heap committed MiB |");
        s.AppendLine("| ---: | --- | ---: | ---: |");
        foreach (var m in r.Memory) s.AppendLine(c, $"| {m.Seconds:F0} | {m.Phase} | {m.ResidentMiB:F0} | {m.ManagedMiB:F0} |");
        if (r.Failures.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("Failed good requests (first 10):");
            s.AppendLine();
            foreach (var f in r.Failures.Take(10)) s.AppendLine("- " + f.ReplaceLineEndings(" "));
        }
        return s.ToString();
    }
}
