using System.Text.Json;
using System.Text.Json.Serialization;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;
using CaptionService.Model;

namespace CaptionService.Api.Endpoints;

/// <summary>What GET /model reports (never a filesystem path: the service's layout is nobody's business).</summary>
/// <param name="Id">Short name, as in every caption's <c>model.id</c>: OWNER/NAME for a Hub model, else the checkpoint directory's name.</param>
/// <param name="MixedPrecision">With bf16/fp16: true when only the linear layers and the LM head use that dtype (Captioner:MixedPrecision).</param>
/// <param name="DtypeReason">"configured", or why Captioner:DType=auto chose this dtype.</param>
/// <param name="MklIntelPath">Whether MKL's fp32 GEMM takes its fast (Intel) path on this CPU, and why (on/off: reason).</param>
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

public static class ModelEndpoints
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/model", GetModel)
            .WithMetadata(RequiresApiKey.Instance)
            .WithName("GetModel")
            .WithTags("Model")
            .WithSummary("The model being served")
            .WithDescription("Model name (and, for a Hugging Face Hub model, its repository and commit), config, image preprocessing, parameter counts, device and dtype, "
                + "and the limits this service applies. 503 while the model downloads or loads. Needs an API key when the service has keys.")
            .Produces<ModelInfo>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    private static PreprocessingInfo Preprocessing(ModelConfig c)
    {
        var steps = c.EffectivePreprocessing;
        return new PreprocessingInfo(steps.Source, steps.Describe(c.ImageSize, c.ImageMean, c.ImageStd),
            JsonSerializer.SerializeToElement(steps, ModelConfig.Json));
    }

    private static IResult GetModel(ModelHost host, CaptionScheduler scheduler, IOptions<CaptionerOptions> options)
    {
        if (host.Current is not { } m) return ApiProblems.NotReady(host.State);
        var p = m.Parameters;
        return TypedResults.Ok(new ModelInfo(
            m.Id,
            m.BuiltIn,
            m.DeviceName,
            m.DTypeName,
            m.DTypeReason,
            m.MixedPrecision,
            MklIntelPath.Status,
            new ParameterCountsInfo(p.Encoder, p.Decoder, p.CrossAttention, p.Total),
            Math.Round(m.LoadTime.TotalMilliseconds, 1),
            Math.Round(m.WarmupTime.TotalMilliseconds, 1),
            new ServiceLimits(scheduler.MaxTokens, scheduler.Options.MaxBatchSize, scheduler.Options.QueueCapacity,
                options.Value.MaxImagesPerRequest, options.Value.MaxUploadBytes),
            JsonSerializer.SerializeToElement(m.Config, ModelConfig.Json),
            Preprocessing(m.Config),
            m.Hub is { } hub ? new HubModelInfo(hub.Repo, hub.Revision, hub.Commit, Math.Round(m.FetchTime?.TotalMilliseconds ?? 0, 1)) : null,
            m.Notice));
    }
}
