using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>Linear layers whose input may be in another precision than their weights.</summary>
internal static class Layers
{
    /// <summary><paramref name="layer"/>(x), with x cast to the layer's dtype first when it differs: in mixed
    /// precision (<see cref="Captioner.ToMixedPrecision"/>) the residual stream and the norms stay
    /// float32 while the linear layers compute in bf16 or fp16.</summary>
    public static Tensor Apply(this Linear layer, Tensor x)
    {
        var dtype = layer.weight!.dtype;
        return layer.forward(x.dtype == dtype ? x : x.to(dtype));
    }
}
