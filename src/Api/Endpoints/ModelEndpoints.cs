using System.Text.Json;
using CaptionService.Api.Batching;
using CaptionService.Api.Contracts;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Model;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

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
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    private static PreprocessingInfo Preprocessing(ModelConfig c)
    {
        var steps = c.EffectivePreprocessing;
        return new PreprocessingInfo(steps.Source, steps.Describe(c.ImageSize, c.ImageMean, c.ImageStd),
            JsonSerializer.SerializeToElement(steps, ModelConfig.Json));
    }

    private static Results<Ok<ModelInfo>, ApiProblem> GetModel(ModelHost host, CaptionScheduler scheduler, IOptions<CaptionerOptions> options)
    {
        if (host.Current is not { } m) return ApiProblems.NotReady(host.State);
        var p = m.Parameters;
        return TypedResults.Ok(new ModelInfo(
            m.Id,
            m.BuiltIn,
            m.DeviceName,
            m.DTypeName,
            m.Placement.DTypeReason,
            m.Placement.MixedPrecision,
            MklIntelPath.Status,
            m.Pipeline.Model.KernelStatus,
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
