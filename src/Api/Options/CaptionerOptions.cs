using CaptionService.Model.Imaging;

namespace CaptionService.Api.Options;

/// <summary>
/// The "Captioner" configuration section (appsettings.json, or environment variables such as
/// <c>Captioner__Device=cpu</c>). Checked once at start-up by <see cref="CaptionerOptionsValidator"/>.
/// </summary>
public sealed class CaptionerOptions
{
    public const string Section = "Captioner";

    /// <summary>Where the built-in demo checkpoint is copied beside the service (from the repository's checkpoints/demo-shapes).</summary>
    public static string BuiltInCheckpoint => Path.Combine(AppContext.BaseDirectory, "checkpoints", "demo-shapes");

    /// <summary>A checkpoint directory (config.json + model.safetensors); empty: the built-in demo checkpoint.</summary>
    public string? Checkpoint { get; set; }

    /// <summary>"auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public string Device { get; set; } = "auto";

    /// <summary>"fp32", "bf16" or "fp16" (fp16 only on CUDA).</summary>
    public string DType { get; set; } = "fp32";

    /// <summary>With bf16 or fp16: the linear layers and the LM head in that dtype, the embeddings, norms
    /// and residual stream in fp32, as autocast does it (true, the default); false converts the whole
    /// model. On the demo checkpoint whole-model bf16 changed 19% of greedy captions against fp32,
    /// mixed 1.3% (docs/benchmarks.md).</summary>
    public bool MixedPrecision { get; set; } = true;

    /// <summary>libtorch's intra-op threads on the CPU; 0 keeps its default (one per core).</summary>
    public int Threads { get; set; }

    /// <summary>Most bytes accepted for one uploaded image (default 20 MiB).</summary>
    public long MaxUploadBytes { get; set; } = ImageLimits.Default.MaxBytes;

    /// <summary>Most pixels (width x height, as the image header declares them) accepted (default 40 M).</summary>
    public long MaxPixels { get; set; } = ImageLimits.Default.MaxPixels;

    /// <summary>Most images in one POST /captions/batch request (default 16).</summary>
    public int MaxImagesPerRequest { get; set; } = 16;

    /// <summary>The scheduler's limits ("Captioner:Batching").</summary>
    public BatchingOptions Batching { get; set; } = new();

    /// <summary>When set, requests to /captions must carry it in the <c>X-Api-Key</c> header. Empty: no key needed.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Requests per minute allowed to one client (its API key, else its address) on /captions; 0: no limit.</summary>
    public int RateLimitPerMinute { get; set; }

    public bool UsesBuiltInModel => string.IsNullOrWhiteSpace(Checkpoint);

    /// <summary>The checkpoint directory to load, as a full path.</summary>
    public string CheckpointDirectory => UsesBuiltInModel ? BuiltInCheckpoint : Path.GetFullPath(Checkpoint!);

    public ImageLimits ToImageLimits() => new() { MaxBytes = MaxUploadBytes, MaxPixels = MaxPixels };
}
