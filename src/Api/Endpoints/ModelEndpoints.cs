using System.Text.Json;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;
using CaptionService.Model;

namespace CaptionService.Api.Endpoints;

/// <summary>What GET /model reports (never a filesystem path: the service's layout is nobody's business).</summary>
/// <param name="Id">Short name, as in every caption's <c>model.id</c>: the checkpoint directory's name.</param>
/// <param name="MixedPrecision">With bf16/fp16: true when only the linear layers and the LM head use that dtype (Captioner:MixedPrecision).</param>
/// <param name="Config">The model's config, as its checkpoint's config.json spells it.</param>
public sealed record ModelInfo(
    string Id,
    bool BuiltIn,
    string Device,
    string Dtype,
    bool MixedPrecision,
    ParameterCountsInfo Parameters,
    double LoadMs,
    double WarmupMs,
    ServiceLimits Limits,
    JsonElement Config);

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
            .WithDescription("Checkpoint name, config, parameter counts, device and dtype, and the limits this service applies. 503 while the model loads. "
                + "Needs an API key when the service has keys.")
            .Produces<ModelInfo>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
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
            m.MixedPrecision,
            new ParameterCountsInfo(p.Encoder, p.Decoder, p.CrossAttention, p.Total),
            Math.Round(m.LoadTime.TotalMilliseconds, 1),
            Math.Round(m.WarmupTime.TotalMilliseconds, 1),
            new ServiceLimits(scheduler.MaxTokens, scheduler.Options.MaxBatchSize, scheduler.Options.QueueCapacity,
                options.Value.MaxImagesPerRequest, options.Value.MaxUploadBytes),
            JsonSerializer.SerializeToElement(m.Config, ModelConfig.Json)));
    }
}
