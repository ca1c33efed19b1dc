using CaptionService.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Api.Hosting;

/// <summary>The model the service answers with, and where it came from.</summary>
/// <param name="Id">Short name reported with every caption: the checkpoint directory's name ("demo-shapes" for the built-in one).</param>
/// <param name="Checkpoint">The checkpoint directory's full path.</param>
/// <param name="BuiltIn">True for the built-in demo checkpoint (no Captioner:Checkpoint configured).</param>
/// <param name="MixedPrecision">True when only the linear layers run in <paramref name="DType"/> (the rest in fp32).</param>
public sealed record LoadedModel(
    string Id,
    string Checkpoint,
    bool BuiltIn,
    CaptionPipeline Pipeline,
    Device Device,
    ScalarType DType,
    bool MixedPrecision,
    ParameterCounts Parameters,
    TimeSpan LoadTime,
    TimeSpan WarmupTime)
{
    public ModelConfig Config => Pipeline.Model.Config;

    /// <summary>"cpu" or "cuda:N".</summary>
    public string DeviceName => Device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, Device.index)}" : Device.type.ToString().ToLowerInvariant();

    public string DTypeName => TorchRuntime.Name(DType);
}

/// <summary>The warm-up caption and what it cost.</summary>
public sealed record CaptionOutcome(string Text, int Tokens, bool Finished, TimeSpan Elapsed);

/// <summary>The model is still loading (or failed to load): the service answers 503.</summary>
public sealed class ModelNotReadyException(string message) : Exception(message);
