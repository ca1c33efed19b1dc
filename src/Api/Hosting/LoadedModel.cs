using CaptionService.Api.Options;
using CaptionService.Hub;
using CaptionService.Model;

namespace CaptionService.Api.Hosting;

/// <summary>The model the service answers with, and where it came from.</summary>
/// <param name="Id">Short name reported with every caption: OWNER/NAME for a Hub model, else the checkpoint directory's name ("demo-shapes" for the built-in one).</param>
/// <param name="Checkpoint">The checkpoint directory's full path (a Hub model's snapshot folder in the cache).</param>
/// <param name="BuiltIn">True for the built-in demo checkpoint (no Captioner:Checkpoint configured).</param>
/// <param name="Placement">The device and dtype it runs on, by name, and why that dtype.</param>
public sealed record LoadedModel(
    string Id,
    string Checkpoint,
    bool BuiltIn,
    CaptionPipeline Pipeline,
    Placement Placement,
    ParameterCounts Parameters,
    TimeSpan LoadTime,
    TimeSpan WarmupTime)
{
    public ModelConfig Config => Pipeline.Config;

    /// <summary>The Hub repository, revision and commit of a model given as <c>hf:...</c>; null for a directory.</summary>
    public HubOrigin? Hub { get; init; }

    /// <summary>Finding (and downloading, the first time) a Hub model's files; null for a directory.</summary>
    public TimeSpan? FetchTime { get; init; }

    /// <summary>What to tell every client: that the built-in demo knows only shapes; null for any other model.</summary>
    public string? Notice => BuiltIn ? ModelNotice.Demo : null;

    /// <summary>"cpu" or "cuda:N".</summary>
    public string DeviceName => Placement.DeviceName;

    /// <summary>"fp32", "bf16" or "fp16".</summary>
    public string DTypeName => Placement.DTypeName;
}

/// <summary>The warm-up caption and what it cost.</summary>
public sealed record CaptionOutcome(string Text, int Tokens, bool Finished, TimeSpan Elapsed);

/// <summary>The model is still loading (or failed to load): the service answers 503.</summary>
public sealed class ModelNotReadyException(string message) : Exception(message);
