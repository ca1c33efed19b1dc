using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>
/// Where a model runs and in what precision, chosen by name (device <c>auto</c>, <c>cpu</c>, <c>cuda</c>,
/// <c>cuda:N</c>; dtype <c>auto</c>, <c>fp32</c>, <c>bf16</c>, <c>fp16</c>) and reported by name: what an
/// app that never touches TorchSharp itself (the web service) asks for and shows.
/// </summary>
public sealed class Placement
{
    private Placement(Device device, ScalarType dtype, string dtypeReason, bool mixedPrecision)
    {
        Device = device;
        DType = dtype;
        DTypeReason = dtypeReason;
        MixedPrecision = mixedPrecision;
    }

    internal Device Device { get; }
    internal ScalarType DType { get; }

    /// <summary>"cpu" or "cuda:N".</summary>
    public string DeviceName => Device.type == DeviceType.CUDA ? $"cuda:{Math.Max(0, Device.index)}" : Device.type.ToString().ToLowerInvariant();

    /// <summary>"fp32", "bf16" or "fp16".</summary>
    public string DTypeName => TorchRuntime.Name(DType);

    /// <summary>"configured", or which rule of dtype <c>auto</c> chose it (<see cref="TorchRuntime.ResolvePrecision"/>).</summary>
    public string DTypeReason { get; }

    /// <summary>With bf16/fp16: only the linear layers and the LM head run in that dtype (the rest in fp32).</summary>
    public bool MixedPrecision { get; }

    /// <summary>The device and dtype these names choose on this machine.</summary>
    /// <exception cref="ArgumentException">a name that is none, or a device or dtype this machine does not have</exception>
    public static Placement Resolve(string device, string dtype, bool mixedPrecision)
    {
        var d = TorchRuntime.ResolveDevice(device);
        var (precision, reason) = TorchRuntime.ResolvePrecision(dtype, d);
        var scalarType = TorchRuntime.ScalarTypeOf(precision);
        return new Placement(d, scalarType, reason, mixedPrecision && scalarType != ScalarType.Float32);
    }

    /// <summary>What is wrong with each name (null when nothing is), checked apart so that both are reported.</summary>
    public static (string? Device, string? DType) Problems(string device, string dtype)
    {
        Device? d = null;
        string? deviceProblem = null, dtypeProblem = null;
        try
        {
            d = TorchRuntime.ResolveDevice(device);
        }
        catch (ArgumentException e)
        {
            deviceProblem = e.Message;
        }
        try
        {
            if (d is not null) TorchRuntime.ResolvePrecision(dtype, d);
            else if (!string.Equals(dtype.Trim(), "auto", StringComparison.OrdinalIgnoreCase)) TorchRuntime.ParsePrecision(dtype);
        }
        catch (ArgumentException e)
        {
            dtypeProblem = e.Message;
        }
        return (deviceProblem, dtypeProblem);
    }

    /// <summary>Loads a checkpoint directory here, in eval mode, with the image limits its preprocessor applies.</summary>
    /// <param name="convertedWeights">an HF model's weights already in our layout (<see cref="Checkpoint.Load"/>)</param>
    public CaptionPipeline Load(string checkpoint, ImageLimits? limits = null, string? convertedWeights = null)
    {
        var model = Checkpoint.Load(checkpoint, Device, convertedWeights: convertedWeights).ToPrecision(DType, MixedPrecision);
        model.eval();
        return new CaptionPipeline(model, limits);
    }
}
