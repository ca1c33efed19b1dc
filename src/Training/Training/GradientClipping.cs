using CaptionService.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Training.Training;

/// <summary>
/// Clips the global gradient norm the way <c>torch.nn.utils.clip_grad_norm_</c> does, without reading the
/// norm back to the host: the scale min(1, max / norm) is computed and applied on the device, so a step
/// never waits for it (TorchSharp's <c>clip_grad_norm_</c> returns the norm as a double, a device sync
/// every step).
/// </summary>
public static class GradientClipping
{
    public static void ClipNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return;
        var total = stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToList()).norm();  // []
        var scale = total.AtLeast(maxNorm).reciprocal().Times(maxNorm);                         // min(1, max / total)
        foreach (var g in grads) g.mul_(scale.to(g.dtype));
    }
}
