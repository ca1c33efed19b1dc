using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

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
    public required IReadOnlyList<ScalarType> DTypes { get; init; }
    public string? Checkpoint { get; init; }
    public int AgreementImages { get; init; } = 300;
    public long MemoryBudgetBytes { get; init; } = 8L << 30;
    public int LeakCaptions { get; init; } = 1000;
    public int[] MatmulSizes { get; init; } = [1024, 2048];
    public long InitSeed { get; init; }
    public bool Quick { get; init; }
}
