using System.Text.Json;
using System.Text.Json.Serialization;

namespace CaptionService.Api.Contracts;

// What GET /model answers with.

/// <summary>What GET /model reports (never a filesystem path: the service's layout is nobody's business).</summary>
/// <param name="Id">Short name, as in every caption's <c>model.id</c>: OWNER/NAME for a Hub model, else the checkpoint directory's name.</param>
/// <param name="MixedPrecision">With bf16/fp16: true when only the linear layers and the LM head use that dtype (Captioner:MixedPrecision).</param>
/// <param name="DtypeReason">"configured", or why Captioner:DType=auto chose this dtype.</param>
/// <param name="MklIntelPath">Whether MKL's fp32 GEMM takes its fast (Intel) path on this CPU, and why (on/off: reason).</param>
/// <param name="CpuKernels">Whether decoding steps run on the CPU kernels, and why (on: what/off: reason; Captioner:CpuKernels).</param>
/// <param name="Config">The model's config, as its checkpoint's config.json spells it.</param>
/// <param name="Preprocessing">What every image goes through before the model.</param>
/// <param name="Hub">For a model given as hf:OWNER/NAME[@REVISION]: the repository, the revision asked for and the commit served.</param>
/// <param name="Notice">For the built-in demo model: that it only knows coloured shapes, and how to serve a real model.</param>
public sealed record ModelInfo(
    string Id,
    bool BuiltIn,
    string Device,
    string Dtype,
    string DtypeReason,
    bool MixedPrecision,
    string MklIntelPath,
    string CpuKernels,
    ParameterCountsInfo Parameters,
    double LoadMs,
    double WarmupMs,
    ServiceLimits Limits,
    JsonElement Config,
    PreprocessingInfo Preprocessing,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] HubModelInfo? Hub = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Notice = null);

/// <summary>Where a Hub model came from.</summary>
/// <param name="Repo">OWNER/NAME on the Hub.</param>
/// <param name="Revision">The branch, tag or commit asked for (main when none was).</param>
/// <param name="Commit">The commit whose files are served.</param>
/// <param name="FetchMs">Finding the files, and downloading them when they were not in the cache.</param>
public sealed record HubModelInfo(string Repo, string Revision, string Commit, double FetchMs);

/// <summary>The preprocessing in use: the checkpoint's <c>preprocessing</c> section, or the legacy steps
/// (ImageSharp's bicubic) for a checkpoint written before there was one.</summary>
/// <param name="Source">Where the steps come from.</param>
/// <param name="Steps">The steps in order, in words (resize filter and size, crop, rescale, mean and std).</param>
/// <param name="Settings">The same steps as the config's <c>preprocessing</c> section spells them.</param>
public sealed record PreprocessingInfo(string? Source, IReadOnlyList<string> Steps, JsonElement Settings);

/// <summary>What this service accepts (its Captioner settings).</summary>
/// <param name="MaxTokens">Most tokens per caption (max_tokens).</param>
/// <param name="MaxBatchSize">Sequences decoded together; num_beams cannot exceed it.</param>
/// <param name="QueueCapacity">Requests that may wait; beyond, 503.</param>
/// <param name="MaxImagesPerRequest">Images in one POST /captions/batch.</param>
/// <param name="MaxUploadBytes">Bytes per image.</param>
public sealed record ServiceLimits(int MaxTokens, int MaxBatchSize, int QueueCapacity, int MaxImagesPerRequest, long MaxUploadBytes);

public sealed record ParameterCountsInfo(long Encoder, long Decoder, long CrossAttention, long Total);
