using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>A precision to run the model in: <paramref name="DType"/> everywhere (<c>Module.to</c>), or
/// with <paramref name="Mixed"/> only in the linear layers, the residual stream and norms in float32
/// (<see cref="CaptionService.Model.Captioner.ToMixedPrecision"/>).</summary>
public sealed record BenchPrecision(ScalarType DType, bool Mixed)
{
    public static readonly BenchPrecision Fp32 = new(ScalarType.Float32, false);

    public string Name => CaptionService.Model.TorchRuntime.Name(DType) + (Mixed ? "-mixed" : "");

    /// <summary>"fp32", "bf16", "bf16-mixed", "fp16", "fp16-mixed".</summary>
    public static BenchPrecision Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        bool mixed = t.EndsWith("-mixed", StringComparison.Ordinal);
        var p = CaptionService.Model.TorchRuntime.ParsePrecision(mixed ? t[..^6] : t);
        return new BenchPrecision(CaptionService.Model.TorchRuntime.ScalarTypeOf(p), mixed && p != CaptionService.Model.Precision.Fp32);
    }
}

/// <summary>What one <c>captioner bench</c> run measures.</summary>
public sealed record BenchSettings
{
    public required IReadOnlyList<string> Presets { get; init; }
    public int Tokens { get; init; } = 20;
    public required IReadOnlyList<int> BatchSizes { get; init; }
    public int Repeats { get; init; } = 3;
    public int Warmup { get; init; } = 1;
    /// <summary>Captions decoded the seed's way at full size (each takes seconds).</summary>
    public int SeedCaptions { get; init; } = 3;
    public required Device Device { get; init; }
    /// <summary>Precisions compared with fp32 (fp32 itself is always measured).</summary>
    public required IReadOnlyList<BenchPrecision> DTypes { get; init; }
    public string? Checkpoint { get; init; }
    public int AgreementImages { get; init; } = 300;
    public long MemoryBudgetBytes { get; init; } = 8L << 30;
    public int LeakCaptions { get; init; } = 1000;
    /// <summary>Square sizes for the raw matmul rate (the best one counts).</summary>
    public required IReadOnlyList<int> MatmulSizes { get; init; }
    public long InitSeed { get; init; }
    public bool Quick { get; init; }
    /// <summary>Our decoding with the CPU kernels off (false), on (true), or both, each measured (<see cref="CaptionService.Model.Captioner.UseCpuKernels"/>).</summary>
    public IReadOnlyList<bool> CpuKernels { get; init; } = [false];
    /// <summary>Apply <see cref="CaptionService.Model.TorchRuntime.TuneMalloc"/> before measuring.</summary>
    public CaptionService.Model.MallocTuning Malloc { get; init; }
    /// <summary>torch intra-op threads (0: leave libtorch's default).</summary>
    public int Threads { get; init; }
}
