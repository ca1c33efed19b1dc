using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.LoadTest;

/// <param name="CompareApi">another build of the service (the one before a change, say) to run the same burst against first</param>
public sealed record BombOptions(string ApiDll, string? CompareApi = null, int Bombs = 48, int Side = 6300, string? Output = null);

/// <summary>What one build did with the burst.</summary>
public sealed record BombResult(string Build, int Ok, int Busy, int Other, double IdleMiB, double PeakMiB, double After10sMiB,
    double? BackWithin100MiBSeconds, double NormalMs, double DuringMaxMs, double DuringMedianMs, double BurstSeconds);

/// <summary>
/// Decompression bombs against the real service with its default settings: <c>Bombs</c> uploads at
/// once of a single-colour PNG just under the pixel limit (6300 x 6300 = 39.7 MP in 131 KB), while a
/// good request (a 224 px PNG, greedy) is sent every half second. Reports the service's resident
/// memory when idle, at the peak (the kernel's high-water mark) and for 10 s after the burst, and
/// the good requests' latency during the burst against their normal latency.
/// </summary>
public static class Bombs
{
    public const string Begin = "<!-- bombs:begin -->", End = "<!-- bombs:end -->";

    public static async Task<IReadOnlyList<BombResult>> RunAsync(BombOptions o, Action<string> log, CancellationToken cancellationToken)
    {
        byte[] bomb;
        using (var image = new Image<Rgb24>(o.Side, o.Side, new Rgb24(200, 30, 30)))
        using (var png = new MemoryStream())
        {
            image.SaveAsPng(png);
            bomb = png.ToArray();
        }
        var loadBefore = LoadTest.LoadAverage();
        var results = new List<BombResult>();
        var builds = (o.CompareApi is null ? [] : new[] { ("before", o.CompareApi) }).Append(("this build", o.ApiDll));
        foreach (var (name, dll) in builds)
        {
            log($"{name}: {dll}");
            results.Add(await RunOne(name, dll, bomb, o, log, cancellationToken));
        }
        if (o.Output is not null) LoadTest.ReplaceSection(o.Output, Begin, End, Markdown(results, o, bomb.Length, loadBefore));
        return results;
    }

    private static async Task<BombResult> RunOne(string name, string dll, byte[] bomb, BombOptions o, Action<string> log, CancellationToken cancellationToken)
    {
        await using var service = await ServiceProcess.StartAsync(dll, new Dictionary<string, string> { ["Captioner__Device"] = "cpu" }, TimeSpan.FromMinutes(5));
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(10) };
        var good = LoadTest.Picture(1);

        async Task<(double Ms, HttpStatusCode Status)> Send(byte[] image)
        {
            var timer = Stopwatch.StartNew();
            var form = new MultipartFormDataContent();
            var file = new ByteArrayContent(image);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "image", "image.png");
            using var response = await http.PostAsync("/captions", form, cancellationToken);
            await response.Content.ReadAsStringAsync(cancellationToken);
            return (timer.Elapsed.TotalMilliseconds, response.StatusCode);
        }

        for (int i = 0; i < 5; i++) await Send(good);
        var normal = new List<double>();
        for (int i = 0; i < 10; i++) normal.Add((await Send(good)).Ms);
        await Task.Delay(2000, cancellationToken);
        double idle = ProcessMemory.ResidentMiB(service.Id);
        ProcessMemory.ResetPeak(service.Id);

        log($"  {o.Bombs} bombs at once");
        var clock = Stopwatch.StartNew();
        var burst = Enumerable.Range(0, o.Bombs).Select(_ => Send(bomb)).ToList();
        var all = Task.WhenAll(burst);
        var during = new List<double>();
        await Task.Delay(200, cancellationToken);
        while (!all.IsCompleted || during.Count == 0)
        {
            var (ms, status) = await Send(good);
            during.Add(status == HttpStatusCode.OK ? ms : double.NaN);
            await Task.WhenAny(all, Task.Delay(500, cancellationToken));
        }
        var answers = await all;
        double burstSeconds = clock.Elapsed.TotalSeconds;

        // Resident memory for 10 s after the last answer.
        double? back = null, after = 0;
        var since = Stopwatch.StartNew();
        while (since.Elapsed < TimeSpan.FromSeconds(10))
        {
            after = ProcessMemory.ResidentMiB(service.Id);
            if (back is null && after <= idle + 100) back = since.Elapsed.TotalSeconds;
            await Task.Delay(200, cancellationToken);
        }
        double peak = ProcessMemory.PeakMiB(service.Id);
        normal.Sort();
        var fine = during.Where(d => !double.IsNaN(d)).OrderBy(d => d).ToList();
        var result = new BombResult(name,
            answers.Count(a => a.Status == HttpStatusCode.OK), answers.Count(a => a.Status == HttpStatusCode.ServiceUnavailable),
            answers.Count(a => a.Status is not HttpStatusCode.OK and not HttpStatusCode.ServiceUnavailable),
            idle, peak, after.Value, back, normal[normal.Count / 2],
            during.Any(double.IsNaN) ? double.NaN : fine.Max(), fine.Count > 0 ? fine[fine.Count / 2] : double.NaN, burstSeconds);
        log($"  idle {idle:F0} MiB, peak {peak:F0} MiB, {after:F0} MiB 10 s after; good request {result.NormalMs:F0} ms normally, "
            + $"at most {result.DuringMaxMs:F0} ms during the burst; bombs: {result.Ok} x 200, {result.Busy} x 503, {result.Other} other");
        return result;
    }

    private static string Markdown(IReadOnlyList<BombResult> results, BombOptions o, int bombBytes, string loadBefore)
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(c, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} CPU cores (load average before: {loadBefore}; "
            + $"after: {LoadTest.LoadAverage()}). `load-test bombs --bombs {o.Bombs} --side {o.Side}`: {o.Bombs} uploads at once of a "
            + $"{o.Side} x {o.Side} single-colour PNG ({(double)o.Side * o.Side / 1e6:F1} MP in {bombBytes / 1024} KB), default settings (the built-in "
            + $"checkpoint on the CPU); meanwhile a good request (224 px PNG, greedy) every half second. Memory is the service process's resident set.");
        s.AppendLine();
        s.AppendLine("| build | bombs: 200 / 503 / other | burst s | idle MiB | peak MiB | 10 s after MiB | back within 100 MiB of idle | good request normally ms | during the burst ms (median / max) |");
        s.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |");
        foreach (var r in results)
            s.AppendLine(c, $"| {r.Build} | {r.Ok} / {r.Busy} / {r.Other} | {r.BurstSeconds:F1} | {r.IdleMiB:F0} | {r.PeakMiB:F0} | {r.After10sMiB:F0} | "
                + $"{(r.BackWithin100MiBSeconds is { } b ? $"after {b:F1} s" : "not within 10 s")} | {r.NormalMs:F0} | "
                + $"{r.DuringMedianMs:F0} / {(double.IsNaN(r.DuringMaxMs) ? "a good request failed" : r.DuringMaxMs.ToString("F0", c))} |");
        return s.ToString();
    }
}
