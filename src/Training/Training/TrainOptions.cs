using CaptionService.Model;
using CaptionService.Training.Data;

namespace CaptionService.Training.Training;

/// <summary>
/// A training run's recipe. The defaults are the seed's: AdamW, OneCycle up to 1e-4, batch 32,
/// 5 epochs, staged unfreezing (epoch 0 only the new cross-attention layers and their norms, from
/// epoch 1 the GPT-2 decoder too, from epoch 2 everything). <see cref="For"/> gives small models
/// their own defaults.
/// </summary>
public sealed record TrainOptions
{
    public int Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 32;
    public double MaxLearningRate { get; init; } = 1e-4;
    /// <summary>Fraction of the steps spent warming up to the max learning rate (OneCycle's pct_start).</summary>
    public double WarmupFraction { get; init; } = 0.3;
    public double WeightDecay { get; init; } = 0.0;
    /// <summary>First epoch (0-based) in which the GPT-2 decoder trains; before it only cross-attention does.</summary>
    public int UnfreezeDecoderAt { get; init; } = 1;
    /// <summary>First epoch (0-based) in which the ViT encoder trains.</summary>
    public int UnfreezeEncoderAt { get; init; } = 2;
    /// <summary>Longest training sequence (start token + caption, or caption + end token).</summary>
    public int MaxLength { get; init; } = 64;
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>Clip the global gradient norm to this; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Micro-batches per optimizer step.</summary>
    public int Accumulation { get; init; } = 1;
    public int Seed { get; init; }
    public int Workers { get; init; } = 2;
    public AugmentOptions Augment { get; init; } = new();

    /// <summary>How the training batches are loaded (validation: the same, without augmentation).</summary>
    public LoaderOptions Loading => new(BatchSize, MaxLength, Augment, Seed, Workers);

    /// <summary>The seed's recipe for full-size models; for small ones (width ≤ 256, e.g. <c>tiny</c>)
    /// a recipe that trains from scratch: everything trainable at once, a higher learning rate, more epochs.</summary>
    public static TrainOptions For(ModelConfig config) => config.DecoderWidth > 256
        ? new TrainOptions()
        : new TrainOptions { Epochs = 30, MaxLearningRate = 3e-3, UnfreezeDecoderAt = 0, UnfreezeEncoderAt = 0, WeightDecay = 0.01 };

    public IEnumerable<string> Validate()
    {
        if (Epochs < 1) yield return $"epochs must be at least 1 (got {Epochs})";
        if (BatchSize < 1) yield return $"batch_size must be at least 1 (got {BatchSize})";
        if (!(MaxLearningRate > 0)) yield return $"lr must be positive (got {MaxLearningRate})";
        if (!(WarmupFraction > 0 && WarmupFraction < 1)) yield return $"warmup must be in (0, 1) (got {WarmupFraction})";
        if (WeightDecay < 0) yield return $"weight_decay must be >= 0 (got {WeightDecay})";
        if (MaxLength < 2) yield return $"max_length must be at least 2 (got {MaxLength})";
        if (ClipNorm < 0) yield return $"clip_norm must be >= 0 (got {ClipNorm})";
        if (Accumulation < 1) yield return $"accumulation must be at least 1 (got {Accumulation})";
        if (Workers < 1) yield return $"workers must be at least 1 (got {Workers})";
    }
}
