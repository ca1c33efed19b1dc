using System.Diagnostics;
using System.Globalization;
using System.Text;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Spectre.Console;
using TorchSharp;

namespace CaptionService.LoadTest;

public sealed record LoadTestOptions(string ApiDll, string[] Models, int[] Concurrency, int[] MaxBatchSizes, int RequestsPerClient,
    int MinRequests, int MaxTokens, string? FullCheckpoint, string? Output, string Device = "cpu", string DType = "fp32");

/// <summary>One service process per (model, max batch size); every concurrency level against it; one table.</summary>
public static class LoadTest
{
    // The CPU run's section; a run on another device keeps its own, e.g. "<!-- load-test (cuda):begin -->".
    private static string Begin(string device) => device == "cpu" ? "<!-- load-test:begin -->" : $"<!-- load-test ({device}):begin -->";
    private static string End(string device) => device == "cpu" ? "<!-- load-test:end -->" : $"<!-- load-test ({device}):end -->";

    public static async Task<int> RunAsync(LoadTestOptions o, CancellationToken cancellationToken)
    {
        var images = Enumerable.Range(0, 4).Select(Picture).ToList();
        string? temporary = null;
        var rows = new List<(string Model, int MaxBatch, LevelResult Level)>();
        var started = DateTime.UtcNow;
        try
        {
            foreach (var model in o.Models)
            {
                string checkpoint = model switch
                {
                    "tiny" => "",
                    "full" => o.FullCheckpoint ?? (temporary = RandomFullSize()),
                    _ => throw new ArgumentException($"--models: unknown model '{model}' (tiny or full)"),
                };
                foreach (int maxBatch in o.MaxBatchSizes)
                {
                    var settings = new Dictionary<string, string>
                    {
                        ["Captioner__Checkpoint"] = checkpoint,
                        ["Captioner__Device"] = o.Device,
                        ["Captioner__DType"] = o.DType,
                        ["Captioner__Batching__MaxBatchSize"] = maxBatch.ToString(CultureInfo.InvariantCulture),
                        ["Captioner__Batching__QueueCapacity"] = "1024",
                        ["Captioner__Batching__RequestTimeoutSeconds"] = "600",
                    };
                    AnsiConsole.MarkupLine($"[bold]{model}[/], max batch {maxBatch}: starting the service");
                    await using var service = await ServiceProcess.StartAsync(o.ApiDll, settings, TimeSpan.FromMinutes(5));
                    using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(10) };
                    (string, string)[] fields = [("decoding", "greedy"), ("max_tokens", o.MaxTokens.ToString(CultureInfo.InvariantCulture))];
                    // Warm-up through every batch size up to the largest, so first-use costs (CUDA kernels loaded
                    // on first use, the allocator growing) stay out of the measured levels.
                    int warm = Math.Max(2, Math.Min(o.Concurrency.Max(), maxBatch));
                    await LoadRun.RunAsync(http, images, warm, 2 * warm, fields);
                    foreach (int c in o.Concurrency)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var level = await LoadRun.RunAsync(http, images, c, Math.Max(o.MinRequests, c * o.RequestsPerClient), fields);
                        rows.Add((model, maxBatch, level));
                        AnsiConsole.MarkupLine($"  concurrency {c,2}: {level.CaptionsPerSecond:F2} captions/s, p50 {level.P50Ms:F0} ms, p99 {level.P99Ms:F0} ms, "
                            + $"mean batch {level.MeanBatch:F1}, {level.Failures} failed");
                    }
                }
            }
        }
        finally
        {
            if (temporary is not null) Directory.Delete(Path.GetDirectoryName(temporary)!, recursive: true);
        }

        var markdown = Markdown(rows, o, DateTime.UtcNow - started);
        AnsiConsole.WriteLine();
        AnsiConsole.WriteLine(markdown);
        if (o.Output is not null) ReplaceSection(o.Output, Begin(o.Device), End(o.Device), markdown);
        return rows.Any(r => r.Level.Failures > 0) ? 1 : 0;
    }

    private static string Markdown(List<(string Model, int MaxBatch, LevelResult Level)> rows, LoadTestOptions o, TimeSpan took)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd} on {Environment.ProcessorCount} CPU cores, device {o.Device}, {o.DType}, in one run of {took.TotalMinutes:F1} min "
            + $"(load average before: {LoadAverage()}). Greedy, max_tokens {o.MaxTokens}; closed loop: each client sends its next request when the last is answered.");
        s.AppendLine();
        s.AppendLine("| model | max batch | clients | requests | captions/s | p50 ms | p99 ms | tokens/caption | mean batch (server) | failed |");
        s.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (model, maxBatch, l) in rows)
            s.AppendLine(CultureInfo.InvariantCulture, $"| {model} | {maxBatch} | {l.Concurrency} | {l.Requests} | {l.CaptionsPerSecond:F2} | {l.P50Ms:F0} | {l.P99Ms:F0} | {l.MeanTokens:F1} | {l.MeanBatch:F1} | {l.Failures} |");
        s.AppendLine();
        var ratios = rows.GroupBy(r => (r.Model, r.Level.Concurrency))
            .Where(g => g.Select(r => r.MaxBatch).Distinct().Count() > 1)
            .Select(g => (g.Key, On: g.MaxBy(r => r.MaxBatch), Off: g.MinBy(r => r.MaxBatch))).ToList();
        if (ratios.Count > 0)
        {
            s.AppendLine("Batching on versus off, same model and clients (captions/s ratio):");
            s.AppendLine();
            foreach (var (key, on, off) in ratios)
                s.AppendLine(CultureInfo.InvariantCulture, $"- {key.Model}, {key.Concurrency} clients: max batch {on.MaxBatch} / max batch {off.MaxBatch} = "
                    + $"{on.Level.CaptionsPerSecond / off.Level.CaptionsPerSecond:F2}x");
        }
        return s.ToString();
    }

    /// <summary>Replaces the text between the markers <paramref name="b"/> and <paramref name="e"/> (or appends the section).</summary>
    public static void ReplaceSection(string path, string b, string e, string markdown)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        var section = $"{b}\n{markdown}{e}";
        int begin = text.IndexOf(b, StringComparison.Ordinal), end = text.IndexOf(e, StringComparison.Ordinal);
        text = begin >= 0 && end > begin ? text[..begin] + section + text[(end + e.Length)..] : text + "\n" + section + "\n";
        File.WriteAllText(path, text);
    }

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>The full-size seed config with random weights (20 tokens: the end token is all but never chosen).</summary>
    private static string RandomFullSize()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("load-test-").FullName, "vit-b16-gpt2-random");
        AnsiConsole.MarkupLine($"writing a random-weight vit-b16-gpt2 checkpoint to {dir}");
        var clock = Stopwatch.StartNew();
        torch.manual_seed(0);
        using (var model = new Captioner(Presets.VitB16Gpt2)) Checkpoint.Save(model, dir);
        AnsiConsole.MarkupLine($"  done in {clock.Elapsed.TotalSeconds:F0} s");
        return dir;
    }

    /// <summary>224 x 224 PNGs, each a different coloured shape on a different background.</summary>
    public static byte[] Picture(int seed)
    {
        var random = new Random(seed);
        var (fg, bg) = (new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)),
            new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        int cx = random.Next(60, 164), cy = random.Next(60, 164), r = random.Next(20, 60);
        using var image = new Image<Rgb24>(224, 224);
        image.ProcessPixelRows(pixels =>
        {
            for (int y = 0; y < 224; y++)
            {
                var row = pixels.GetRowSpan(y);
                for (int x = 0; x < 224; x++) row[x] = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r ? fg : bg;
            }
        });
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return png.ToArray();
    }
}
