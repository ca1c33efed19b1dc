using CaptionService.Model;
using CaptionService.Training.Data;

namespace CaptionService.Training.Training;

/// <summary>The two starting recipes: fine-tuning pretrained weights (the seed's) and training a small model from random weights.</summary>
public enum Recipe { FineTune, FromScratch }

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
    /// <summary>AdamW's decoupled weight decay, on the weights of linear and convolution layers only: never on
    /// biases, norms, embeddings, positions or the class token (as in minGPT and HF's trainers).</summary>
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
    /// <summary>Every caption a sample (the seed's way), or each image once per epoch with one of its captions, or with
    /// all of them on one encoding.</summary>
    public CaptionSampling Captions { get; init; } = CaptionSampling.Each;
    /// <summary>How a file without splits of its own is split (its test share is never trained on).</summary>
    public SplitOptions Split { get; init; } = new();
    /// <summary>Stop after this many optimizer steps (0: no limit), e.g. for a smoke run; the schedule is fitted to them.</summary>
    public long MaxSteps { get; init; }
    /// <summary>Use at most this many images of each split (0: all), e.g. for a smoke run.</summary>
    public int LimitImages { get; init; }
    /// <summary>Optimizer steps between reads of the running loss from the device (each read waits for the device).</summary>
    public int LogEvery { get; init; } = 25;
    /// <summary>After each epoch, caption this many validation images greedily and report how many are exactly right (0: off).</summary>
    public int ValCaptions { get; init; }

    /// <summary>How the training batches are loaded (validation: the same, without augmentation).</summary>
    public LoaderOptions Loading => new(BatchSize, MaxLength, Augment, Seed, Workers, Captions: Captions);

    /// <summary>The seed's recipe: fine-tuning pretrained weights with staged unfreezing.</summary>
    public static TrainOptions FineTune { get; } = new();

    /// <summary>Training a small model from random weights: everything trainable at once, a higher learning rate,
    /// more epochs, each image once per epoch, and a greedy-caption check of the validation images after each.</summary>
    public static TrainOptions FromScratch { get; } = new()
    {
        Epochs = 30,
        MaxLearningRate = 3e-3,
        UnfreezeDecoderAt = 0,
        UnfreezeEncoderAt = 0,
        WeightDecay = 0.05,
        Captions = CaptionSampling.One,
        ValCaptions = 200,
    };

    public static TrainOptions Of(Recipe recipe) => recipe == Recipe.FineTune ? FineTune : FromScratch;

    /// <summary>The seed's recipe for full-size models; for small ones (width ≤ 256, e.g. <c>tiny</c>, <c>small</c>)
    /// <see cref="FromScratch"/>.</summary>
    public static TrainOptions For(ModelConfig config) => Of(DefaultRecipe(config));

    public static Recipe DefaultRecipe(ModelConfig config) => config.DecoderWidth > 256 ? Recipe.FineTune : Recipe.FromScratch;

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
        if (MaxSteps < 0) yield return $"max_steps must be 0 (no limit) or positive (got {MaxSteps})";
        if (LimitImages < 0) yield return $"limit_images must be 0 (all) or positive (got {LimitImages})";
        if (LogEvery < 1) yield return $"log_every must be at least 1 (got {LogEvery})";
        if (ValCaptions < 0) yield return $"val_captions must be 0 (off) or positive (got {ValCaptions})";
        if (Split.ValFraction < 0 || Split.TestFraction < 0 || Split.ValFraction + Split.TestFraction >= 1)
            yield return $"val_fraction and test_fraction must be >= 0 and leave images to train on (got {Split.ValFraction} and {Split.TestFraction})";
    }
}
