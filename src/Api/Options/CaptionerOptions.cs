using CaptionService.Hub;
using CaptionService.Model;
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

    /// <summary>A checkpoint directory (ours, or an HF VisionEncoderDecoder ViT-GPT2 folder), or a model on the Hugging Face
    /// Hub, <c>hf:OWNER/NAME[@REVISION]</c> (downloaded into huggingface_hub's cache on start, then loaded from there);
    /// empty: the built-in demo checkpoint.</summary>
    public string? Checkpoint { get; set; }

    /// <summary>"auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public string Device { get; set; } = "auto";

    /// <summary>"auto" (bf16 where the CPU or GPU computes it natively, fp16 on older GPUs, else fp32;
    /// see <see cref="TorchRuntime.ResolvePrecision"/>), "fp32", "bf16" or "fp16" (fp16 only on CUDA).</summary>
    public string DType { get; set; } = "auto";

    /// <summary>With bf16 or fp16: the linear layers and the LM head in that dtype, the embeddings, norms
    /// and residual stream in fp32, as autocast does it (true, the default); false converts the whole
    /// model. On the demo checkpoint whole-model bf16 changed 19% of greedy captions against fp32,
    /// mixed 1.3% (docs/benchmarks.md).</summary>
    public bool MixedPrecision { get; set; } = true;

    /// <summary>Decoding steps, and with bf16 linear layers (bf16-mixed) the encoder's blocks, on the CPU kernels
    /// (src/Model/Native/cpu_kernels.c) where the CPU runs them (AVX-512; AVX512-BF16 for bf16); false:
    /// libtorch's ops only. /model says which ran and why.</summary>
    public bool CpuKernels { get; set; } = true;

    /// <summary>libtorch's intra-op threads on the CPU; 0 keeps its default (one per core).</summary>
    public int Threads { get; set; }

    /// <summary>Most bytes accepted for one uploaded image (default 20 MiB).</summary>
    public long MaxUploadBytes { get; set; } = ImageLimits.Default.MaxBytes;

    /// <summary>Most pixels (width x height, as the image header declares them) accepted (default 40 M).</summary>
    public long MaxPixels { get; set; } = ImageLimits.Default.MaxPixels;

    /// <summary>A caption request's whole body must arrive within this time (s), or 408: an upload that
    /// stalls half-way does not hold its connection for long. (Kestrel's minimum data rate alone would
    /// let a client that sent 128 KB at once stall for nine minutes.)</summary>
    public double UploadTimeoutSeconds { get; set; } = 60;

    /// <summary>Most images in one POST /captions/batch request (default 16).</summary>
    public int MaxImagesPerRequest { get; set; } = 16;

    /// <summary>The scheduler's limits ("Captioner:Batching").</summary>
    public BatchingOptions Batching { get; set; } = new();

    /// <summary>Images decoded at once; 0: one per core but one, which stays with the model (at least 1).
    /// One more may run for a small image.</summary>
    public int DecodeConcurrency { get; set; }

    /// <summary>Memory the images being decoded may take together (their uploads and decoded pixels,
    /// reserved before decoding from the header's size); beyond it a request waits, then gets 503.
    /// Must hold the largest image accepted (<see cref="MaxUploadBytes"/> plus <see cref="MaxPixels"/>
    /// at the most expensive format's bytes per pixel).</summary>
    public int DecodeMemoryMegabytes { get; set; } = 640;

    /// <summary>How long a request waits for its turn to decode before 503 (ms).</summary>
    public int DecodeWaitMs { get; set; } = 2000;

    /// <summary>API keys (a list, so that a key can be rotated without downtime: add the new one, move
    /// the clients, remove the old one). When any is set, /captions, /model and /metrics need one of
    /// them in the <c>X-Api-Key</c> header (or <c>Authorization: Bearer</c>). Empty: no key needed.</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>With API keys: missing or wrong keys allowed per minute from one client address; beyond,
    /// 429 whatever the key (guessing is throttled).</summary>
    public int AuthFailuresPerMinute { get; set; } = 10;

    /// <summary>Caption requests per minute allowed to one client on /captions: per valid API key when
    /// keys are set, else per client address; 0: no limit.</summary>
    public int RateLimitPerMinute { get; set; }

    /// <summary>Addresses (<c>10.0.0.5</c>) or networks (<c>10.0.0.0/8</c>) of reverse proxies whose
    /// <c>X-Forwarded-For</c> is believed. Empty: the client's address is the connection's, always.</summary>
    public string[] TrustedProxies { get; set; } = [];

    public bool UsesBuiltInModel => string.IsNullOrWhiteSpace(Checkpoint);

    /// <summary>Checkpoint names a model on the Hugging Face Hub (<c>hf:...</c>).</summary>
    public bool UsesHub => ModelReference.IsHub(Checkpoint);

    /// <summary>The checkpoint directory to load, as a full path (not for a Hub model, whose folder is known once fetched).</summary>
    public string CheckpointDirectory => UsesBuiltInModel ? BuiltInCheckpoint : Path.GetFullPath(Checkpoint!);

    /// <summary>What is served, in words, for the API description and the logs.</summary>
    public string Describe() => UsesBuiltInModel
        ? "the built-in demo checkpoint (demo-shapes)"
        : UsesHub ? $"{Checkpoint!.Trim()}, from the Hugging Face Hub" : $"the checkpoint {Path.GetFileName(Path.TrimEndingDirectorySeparator(CheckpointDirectory))}";

    public ImageLimits ToImageLimits() => new() { MaxBytes = MaxUploadBytes, MaxPixels = MaxPixels };
}

/// <summary>What the service says alongside the built-in demo model's answers.</summary>
public static class ModelNotice
{
    public const string Demo = "The built-in demo model only knows pictures of one or two coloured circles, squares, triangles, stars, crosses and rings; to caption photos, "
        + "serve a real model, e.g. Captioner__Checkpoint=hf:nlpconnect/vit-gpt2-image-captioning.";
}
