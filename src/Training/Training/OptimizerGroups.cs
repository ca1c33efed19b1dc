using CaptionService.Model;
using TorchSharp.Modules;

namespace CaptionService.Training.Training;

/// <summary>
/// AdamW's parameter groups as in the reference implementations (minGPT, HF's Trainer): weight decay on the
/// weights of linear and convolution layers, none on biases, norms, embeddings (tokens, positions), the ViT's
/// position embedding or its class token.
/// </summary>
public static class OptimizerGroups
{
    /// <summary>True for the parameters that get weight decay.</summary>
    public static bool Decays(string name, Parameter parameter) =>
        parameter.dim() >= 2
        && !name.EndsWith("wte.weight") && !name.EndsWith("wpe.weight")
        && !name.Contains("cls_token") && !name.Contains("pos_embed") && !name.Contains("position_embeddings");

    /// <summary>Two groups in a fixed order (decayed, not decayed), both at <paramref name="lr"/>.</summary>
    public static AdamW.ParamGroup[] For(Captioner model, double lr, double weightDecay)
    {
        var all = model.named_parameters().ToList();
        return
        [
            new AdamW.ParamGroup(all.Where(p => Decays(p.name, p.parameter)).Select(p => p.parameter).ToList(), lr: lr, weight_decay: weightDecay),
            new AdamW.ParamGroup(all.Where(p => !Decays(p.name, p.parameter)).Select(p => p.parameter).ToList(), lr: lr, weight_decay: 0),
        ];
    }
}
