using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

// hub-bench: pulling and loading a full-size (about 1 GB) ViT-GPT2 from a Hugging Face Hub on loopback.
//   hub-bench run --api src/Api/bin/Release/net10.0/CaptionService.Api.dll [--preset hf-vit-gpt2|tiny] [--out docs/benchmarks.md]
// Each measurement runs in its own process (this program, with one of the commands below), so that its peak
// resident memory (VmHWM) is its own: download, load (converted at load, or converted once and kept).
return args.FirstOrDefault() switch
{
    "run" => await Bench.RunAsync(Options.Parse(args[1..])),
    "download" => await Child.DownloadAsync(args[1], args[2], args[3]),
    "load" => Child.Load(args[1], args.Length > 2 ? args[2] : null),
    "load-whole" => Child.LoadWhole(args[1]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: hub-bench run --api CaptionService.Api.dll [--preset hf-vit-gpt2|tiny] [--out FILE|-] [--work DIR]");
    return 2;
}

internal sealed record Options(string Api, string Preset, string Out, string? Work)
{
    public static Options Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        return new Options(Get("--api") ?? throw new ArgumentException("--api CaptionService.Api.dll is required"),
            Get("--preset") ?? "hf-vit-gpt2", Get("--out") ?? "docs/benchmarks.md", Get("--work"));
    }
}

/// <summary>One measurement's result, printed by a child process as one JSON line.</summary>
internal sealed record Measured(double Seconds, long PeakRssBytes, long Bytes = 0);

internal static class Memory
{
    /// <summary>Peak resident set size of a process (VmHWM in /proc/PID/status), in bytes.</summary>
    public static long PeakRss(int pid = 0)
    {
        var status = File.ReadAllLines($"/proc/{(pid == 0 ? "self" : pid.ToString(CultureInfo.InvariantCulture))}/status");
        var line = status.First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}

/// <summary>The measurements, each in this process (started by the parent with a command).</summary>
internal static class Child
{
    private static int Print(Measured m)
    {
        Console.WriteLine(JsonSerializer.Serialize(m));
        return 0;
    }

    public static async Task<int> DownloadAsync(string endpoint, string cache, string reference)
    {
        var settings = new HubSettings { Endpoint = new Uri(endpoint), CacheDirectory = cache };
        using var source = new ModelSource(settings);
        var clock = Stopwatch.StartNew();
        var model = await source.ResolveAsync(reference, ModelPurpose.Captioner, null, CancellationToken.None);
        var seconds = clock.Elapsed.TotalSeconds;
        long bytes = Directory.GetFiles(model.Directory).Sum(f => { using var file = File.OpenRead(f); return file.Length; }); // through the links
        return Print(new Measured(seconds, Memory.PeakRss(), bytes));
    }

    /// <param name="converted">where the weights converted once are (read when there, else converted and written)</param>
    public static int Load(string dir, string? converted)
    {
        using (var warm = empty(1)) { } // libtorch loaded before the clock starts
        var clock = Stopwatch.StartNew();
        using var model = Checkpoint.Load(dir, convertedWeights: converted);
        return Print(new Measured(clock.Elapsed.TotalSeconds, Memory.PeakRss()));
    }

    /// <summary>The way checkpoints loaded before: every tensor of the file in memory, then copied into the model.</summary>
    public static int LoadWhole(string dir)
    {
        using (var warm = empty(1)) { }
        var clock = Stopwatch.StartNew();
        var config = HfImporter.ReadConfig(dir);
        var weights = WeightSource.Find(dir);
        var tensors = WeightSource.Load(weights);
        using var model = new Captioner(config, initialize: false);
        var plan = HfImporter.Plan(WeightSource.ShapesOf(tensors), ImportPlan.ShapesOf(model), weights);
        var parameters = ImportPlan.TensorsOf(model);
        using (no_grad())
            foreach (var load in plan.Loads)
            {
                using var scope = NewDisposeScope();
                var t = tensors[load.Source];
                parameters[load.Target].copy_(load.Kind == MappingKind.Transpose ? t.t() : t);
            }
        var seconds = clock.Elapsed.TotalSeconds;
        foreach (var t in tensors.Values) t.Dispose();
        return Print(new Measured(seconds, Memory.PeakRss()));
    }

}

internal static class Bench
{
    private const string Begin = "<!-- hub-bench:begin -->";
    private const string End = "<!-- hub-bench:end -->";

    public static async Task<int> RunAsync(Options options)
    {
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        var started = DateTime.UtcNow;
        var work = options.Work ?? Directory.CreateTempSubdirectory("hub-bench-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            Console.WriteLine($"writing a random {options.Preset} checkpoint in the HF VisionEncoderDecoder layout to {work}");
            var config = options.Preset == "tiny" ? TinyRepos.VitGpt2Config : Presets.Get(options.Preset) with { EncoderLayerNormEps = 1e-12 };
            var source = Path.Combine(work, "source");
            Directory.CreateDirectory(source);
            List<HubFile> small;
            torch.manual_seed(0);
            using (var model = new Captioner(config))
            using (var scope = NewDisposeScope())
            {
                var tensors = TinyRepos.HfTensors(model);
                TinyRepos.WriteWeights(Path.Combine(source, "model.safetensors"), tensors);
                TinyRepos.WriteWeights(Path.Combine(source, "pytorch_model.bin"), tensors);
                small = TinyRepos.SmallVitGpt2Files(model.Config, TinyRepos.VitGpt2Json(model.Config));
            }
            var safetensors = HubFile.FromPath("model.safetensors", Path.Combine(source, "model.safetensors"));
            var bin = HubFile.FromPath("pytorch_model.bin", Path.Combine(source, "pytorch_model.bin"));

            await using var hub = await FakeHub.StartAsync();
            hub.AddRepo("bench/vit-gpt2", [.. small, safetensors]);
            hub.AddRepo("bench/vit-gpt2-bin", [.. small, bin]);
            var rows = new List<string[]>();
            string Mb(long bytes) => (bytes / 1e6).ToString("0", CultureInfo.InvariantCulture);
            string S(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture);
            string Rate(Measured m) => (m.Bytes / 1e6 / m.Seconds).ToString("0", CultureInfo.InvariantCulture) + " MB/s";

            // Download: a fresh cache, its own process.
            var cache = Path.Combine(work, "cache");
            var download = await ChildAsync("download", hub.Endpoint.ToString(), cache, "hf:bench/vit-gpt2");
            var binDownload = await ChildAsync("download", hub.Endpoint.ToString(), cache, "hf:bench/vit-gpt2-bin");
            rows.Add(["download model.safetensors from the loopback Hub (fresh cache)", $"{Mb(download.Bytes)} MB", S(download.Seconds),
                Rate(download), Mb(download.PeakRssBytes)]);
            rows.Add(["download pytorch_model.bin (same sizes)", $"{Mb(binDownload.Bytes)} MB", S(binDownload.Seconds),
                Rate(binDownload), Mb(binDownload.PeakRssBytes)]);

            var snapshot = Snapshot(cache, "bench/vit-gpt2");
            var binSnapshot = Snapshot(cache, "bench/vit-gpt2-bin");
            var converted = Path.Combine(work, "converted", "model.safetensors");
            var convert = await ChildAsync("load", snapshot, converted); // the first load converts and keeps the weights
            var atLoad = await MedianAsync("load", snapshot);
            var once = await MedianAsync("load", snapshot, converted);
            var binAtLoad = await MedianAsync("load", binSnapshot);
            var whole = await MedianAsync("load-whole", snapshot);
            rows.Add(["load, converted at load (HF model.safetensors, tensor by tensor)", "", S(atLoad.Seconds), "", Mb(atLoad.PeakRssBytes)]);
            rows.Add(["load, converted once (the kept weights in our layout, tensor by tensor; config from the HF files)", "", S(once.Seconds), "", Mb(once.PeakRssBytes)]);
            rows.Add(["first load that converts and keeps the weights (once per commit)", "", S(convert.Seconds), "", Mb(convert.PeakRssBytes)]);
            rows.Add(["load, converted at load (HF pytorch_model.bin, stored zip)", "", S(binAtLoad.Seconds), "", Mb(binAtLoad.PeakRssBytes)]);
            rows.Add(["load the way it was before: whole file in memory, then copied", "", S(whole.Seconds), "", Mb(whole.PeakRssBytes)]);

            // The service: start to ready with an hf: setting, first (download) and second start (cache).
            var serviceCache = Path.Combine(work, "service-cache");
            var first = await StartServiceAsync(options.Api, hub.Endpoint, serviceCache);
            var second = await StartServiceAsync(options.Api, hub.Endpoint, serviceCache);
            rows.Add(["service start -> /health/ready 200, first start (download, load, warm-up caption)", "", S(first.Seconds), "", Mb(first.PeakRssBytes)]);
            rows.Add(["service start -> /health/ready 200, second start (from the cache)", "", S(second.Seconds), "", Mb(second.PeakRssBytes)]);

            var table = new StringBuilder();
            table.AppendLine(Begin);
            var when = started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
            table.AppendLine($"Measured {when} UTC by `hub-bench run --preset {options.Preset}` on {Environment.ProcessorCount} CPU cores " +
                $"(load average before: {string.Join(' ', load)}); a random {options.Preset} model ({Mb(safetensors.Length)} MB of fp32 weights) " +
                "served by the fake Hub on 127.0.0.1 (the test suite's, speaking the Hub's protocol; the bytes from a file on disk). " +
                "Loads: median of 3 runs, each in its own process, the file in the page cache. Peak RSS: the process's VmHWM.");
            table.AppendLine();
            table.AppendLine("| measurement | size | s | rate | peak RSS MB |");
            table.AppendLine("| --- | ---: | ---: | ---: | ---: |");
            foreach (var row in rows) table.AppendLine("| " + string.Join(" | ", row) + " |");
            table.AppendLine(End);
            Console.WriteLine(table);
            if (options.Out != "-") WriteInto(options.Out, table.ToString().TrimEnd());
            return 0;
        }
        finally
        {
            if (options.Work is null) Directory.Delete(work, recursive: true);
        }
    }

    private static string Snapshot(string cache, string repo)
    {
        var snapshots = Path.Combine(cache, "models--" + repo.Replace("/", "--", StringComparison.Ordinal), "snapshots");
        return Directory.GetDirectories(snapshots).Single();
    }

    private static async Task<Measured> MedianAsync(params string[] args)
    {
        var runs = new List<Measured>();
        for (int i = 0; i < 3; i++) runs.Add(await ChildAsync(args));
        return runs.OrderBy(r => r.Seconds).ElementAt(1);
    }

    /// <summary>This program again with a command; its last stdout line is the JSON result.</summary>
    private static async Task<Measured> ChildAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(Bench).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"hub-bench {string.Join(' ', args)} failed ({process.ExitCode}):\n{error}{output}");
        var result = JsonSerializer.Deserialize<Measured>(output.Trim().Split('\n')[^1])!;
        Console.WriteLine($"  {string.Join(' ', args.Take(1))}: {result}");
        return result;
    }

    /// <summary>The built service with Captioner:Checkpoint=hf:bench/vit-gpt2: seconds from the process's start to
    /// /health/ready 200, and its peak RSS then.</summary>
    private static async Task<Measured> StartServiceAsync(string api, Uri endpoint, string cache)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0)) { listener.Start(); port = ((IPEndPoint)listener.LocalEndpoint).Port; }
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { api, "--urls", $"http://127.0.0.1:{port}" }) start.ArgumentList.Add(a);
        start.Environment["Captioner__Checkpoint"] = "hf:bench/vit-gpt2";
        start.Environment["Captioner__Device"] = "cpu";
        start.Environment["HF_ENDPOINT"] = endpoint.ToString();
        start.Environment["HF_HUB_CACHE"] = cache;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var log = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            while (true)
            {
                if (process.HasExited) throw new InvalidOperationException($"the service exited ({process.ExitCode}):\n{log}");
                try
                {
                    if ((await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).StatusCode == HttpStatusCode.OK)
                    {
                        var measured = new Measured(clock.Elapsed.TotalSeconds, Memory.PeakRss(process.Id));
                        Console.WriteLine($"  service: {measured}");
                        return measured;
                    }
                }
                catch (HttpRequestException) { }
                if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"not ready in 10 minutes:\n{log}");
                await Task.Delay(50);
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static void WriteInto(string path, string section)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : "";
        int begin = text.IndexOf(Begin, StringComparison.Ordinal), end = text.IndexOf(End, StringComparison.Ordinal);
        text = begin >= 0 && end > begin ? text[..begin] + section + text[(end + End.Length)..] : text.TrimEnd() + "\n\n" + section + "\n";
        File.WriteAllText(path, text);
        Console.WriteLine($"wrote {Path.GetFullPath(path)}");
    }
}
