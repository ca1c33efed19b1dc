using System.CommandLine;
using System.Globalization;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Training.Bench;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner bench</c>: the seed's way of generating against ours, the machine's matmul limit and
/// how much of it the encoder and the decode step reach, fp32 against bf16 (fp16/bf16 on CUDA),
/// peak memory per batch size, and a steady-state leak check. Prints tables and writes them into a
/// generated section of <c>--out</c> (default docs/benchmarks.md).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var presets = new Option<string[]>("--preset") { Description = "Presets to measure (repeatable or comma-separated)", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => ["tiny", "vit-b16-gpt2"] };
        var tokens = new Option<int>("--tokens") { Description = "Tokens per caption (the end token is banned)", DefaultValueFactory = _ => 20 };
        var batches = new Option<string>("--batch-sizes") { Description = "Batch sizes for our generation", DefaultValueFactory = _ => "1,8,32" };
        var repeats = new Option<int>("--repeats") { Description = "Timed repetitions per measurement (the median is reported)", DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up runs per measurement", DefaultValueFactory = _ => 1 };
        var seedCaptions = new Option<int>("--seed-captions") { Description = "Captions decoded the seed's way per preset (seconds each at full size; 0: skip)", DefaultValueFactory = _ => 3 };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N (auto: CUDA when present)", DefaultValueFactory = _ => "auto" };
        var dtypes = new Option<string>("--dtypes") { Description = "Precisions to compare with fp32 (always measured): bf16, fp16 (CUDA), and NAME-mixed for float32 norms and residual stream", DefaultValueFactory = _ => "bf16,bf16-mixed" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Trained checkpoint (a directory or hf:OWNER/NAME) for the fp32-vs-lower-precision caption agreement (default: checkpoints/demo-shapes)" };
        var agreementImages = new Option<int>("--agreement-images") { Description = "Synthetic test images for the agreement", DefaultValueFactory = _ => 300 };
        var budget = new Option<double>("--memory-budget") { Description = "Memory budget in GiB for the largest-batch estimate", DefaultValueFactory = _ => 8 };
        var leak = new Option<int>("--leak-captions") { Description = "Captions for the steady-state leak check (0: skip)", DefaultValueFactory = _ => 1000 };
        var outFile = new Option<FileInfo?>("--out") { Description = "Markdown file whose generated section is replaced (default docs/benchmarks.md; '-' for none)" };
        var initSeed = new Option<long>("--init-seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => 0 };
        var tuneMalloc = new Option<MallocTuning>("--malloc") { Description = "glibc malloc settings: default, threshold (mmap threshold 32 MiB) or nommap (see TorchRuntime.TuneMalloc)", DefaultValueFactory = _ => MallocTuning.Default };
        var threads = new Option<int>("--threads") { Description = "torch intra-op threads (0: libtorch's default)", DefaultValueFactory = _ => 0 };
        var matmulSizes = new Option<string?>("--matmul-sizes") { Description = "Square sizes n for the raw matmul rate, the best counts (default 1024,2048 on a CPU, 2048,4096,8192 on a GPU)" };
        var kernels = new Option<string>("--cpu-kernels") { Description = "Our decoding steps on the CPU kernels: on, off, or both (each precision measured both ways, side by side)", DefaultValueFactory = _ => "both" };
        var quick = new Option<bool>("--quick") { Description = "A fast smoke run: tiny sizes, one repetition, few captions" };
        var command = new Command("bench", "Measure generation speed (seed's way vs ours), matmul utilization, precision, memory and leaks")
        {
            presets, tokens, batches, repeats, warmup, seedCaptions, device, dtypes, checkpoint, agreementImages, budget, leak, outFile, initSeed, tuneMalloc, threads, matmulSizes, kernels, quick,
        };
        command.Subcommands.Add(Resize());
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            bool isQuick = result.GetValue(quick);
            var names = result.GetValue(presets)!.SelectMany(p => p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct().ToList();
            foreach (var n in names) Presets.Get(n); // unknown names fail here, naming the known ones
            var sizes = ParseInts(result.GetValue(batches)!, "--batch-sizes");
            int tokenCount = result.GetValue(tokens);
            if (tokenCount < 1) throw new CliException($"--tokens must be at least 1 (got {tokenCount})");
            var dev = TorchRuntime.ResolveDevice(result.GetValue(device)!);
            var precisions = result.GetValue(dtypes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(BenchPrecision.Parse).ToList();
            foreach (var p in precisions) TorchRuntime.CheckSupported(dev, p.DType == TorchSharp.torch.ScalarType.Float16 ? Precision.Fp16 : Precision.Bf16);
            var ckpt = result.GetValue(checkpoint) is { } given
                ? HubModels.Resolve(given, ModelPurpose.Captioner, result.InvocationConfiguration.Error).Directory
                : DefaultCheckpoint();
            if (ckpt is not null && !File.Exists(Path.Combine(ckpt, "config.json")))
                throw new CliException($"--checkpoint {ckpt}: no config.json there");
            bool[] kernelModes = result.GetValue(kernels)!.Trim().ToLowerInvariant() switch
            {
                "both" => [false, true],
                "on" => [true],
                "off" => [false],
                var other => throw new CliException($"--cpu-kernels: expected on, off or both (got '{other}')"),
            };
            var settings = new BenchSettings
            {
                Presets = names,
                Tokens = tokenCount,
                BatchSizes = sizes,
                Repeats = isQuick ? 1 : Math.Max(1, result.GetValue(repeats)),
                Warmup = isQuick ? 0 : Math.Max(0, result.GetValue(warmup)),
                SeedCaptions = Math.Max(0, result.GetValue(seedCaptions)),
                Device = dev,
                DTypes = precisions,
                Checkpoint = ckpt,
                AgreementImages = Math.Max(1, result.GetValue(agreementImages)),
                MemoryBudgetBytes = (long)(result.GetValue(budget) * (1L << 30)),
                LeakCaptions = isQuick ? Math.Min(64, result.GetValue(leak)) : result.GetValue(leak),
                InitSeed = result.GetValue(initSeed),
                Quick = isQuick,
                CpuKernels = kernelModes,
                Malloc = result.GetValue(tuneMalloc),
                Threads = Math.Max(0, result.GetValue(threads)),
                MatmulSizes = result.GetValue(matmulSizes) is { } m ? ParseInts(m, "--matmul-sizes")
                    : dev.type == TorchSharp.DeviceType.CUDA ? [2048, 4096, 8192] : [1024, 2048],
            };
            var report = new BenchRunner(settings, output).Run("captioner " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).DefaultIfEmpty("bench")));
            var target = result.GetValue(outFile)?.ToString() ?? Path.Combine(RepositoryRoot() ?? ".", "docs", "benchmarks.md");
            if (target != "-")
            {
                report.WriteInto(target);
                output.WriteLine($"wrote {Path.GetFullPath(target)}");
            }
        });
        return command;
    }

    /// <summary><c>captioner bench resize</c>: the Pillow-exact resize against the old ImageSharp bicubic (<see cref="ResizeBench"/>).</summary>
    private static Command Resize()
    {
        var sizes = new Option<string>("--sizes") { Description = "Picture sizes WxH, comma-separated", DefaultValueFactory = _ => "150x97,640x480,1600x1200,4000x3000" };
        var target = new Option<int>("--target") { Description = "Square output size", DefaultValueFactory = _ => 224 };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs per measurement (the median is reported)", DefaultValueFactory = _ => 15 };
        var outFile = new Option<FileInfo?>("--out") { Description = "Markdown file whose 'resize' section is replaced (default docs/benchmarks.md; '-' for none)" };
        var command = new Command("resize", "Time the Pillow-exact resize against the old ImageSharp bicubic") { sizes, target, repeats, outFile };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var parsed = result.GetValue(sizes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(text =>
            {
                var parts = text.Split('x');
                if (parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out int w) || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int h) || w < 1 || h < 1)
                    throw new CliException($"--sizes: '{text}' is not WIDTHxHEIGHT");
                return (w, h);
            }).ToList();
            if (parsed.Count == 0) throw new CliException("--sizes: give at least one size");
            int side = result.GetValue(target);
            if (side < 1) throw new CliException($"--target must be positive (got {side})");
            var report = ResizeBench.Run(parsed, side, Math.Max(1, result.GetValue(repeats)),
                "captioner " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).DefaultIfEmpty("bench resize")), output);
            var file = result.GetValue(outFile)?.ToString() ?? Path.Combine(RepositoryRoot() ?? ".", "docs", "benchmarks.md");
            if (file != "-")
            {
                report.WriteInto(file);
                output.WriteLine($"wrote {Path.GetFullPath(file)}");
            }
        });
        return command;
    }

    private static List<int> ParseInts(string text, string option)
    {
        var values = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < 1)
                throw new CliException($"{option}: '{part}' is not a positive integer");
            values.Add(v);
        }
        if (values.Count == 0) throw new CliException($"{option}: give at least one value");
        return values.Distinct().ToList();
    }

    /// <summary>The repository's demo checkpoint, when this runs inside the repository.</summary>
    private static string? DefaultCheckpoint()
    {
        var root = RepositoryRoot();
        var dir = root is null ? null : Path.Combine(root, "checkpoints", "demo-shapes");
        return dir is not null && File.Exists(Path.Combine(dir, "config.json")) ? dir : null;
    }

    /// <summary>The nearest folder above the working directory (or the executable) holding CaptionService.sln.</summary>
    private static string? RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "CaptionService.sln"))) return d.FullName;
        return null;
    }
}
