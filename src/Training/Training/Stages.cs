using CaptionService.Model;
using TorchSharp.Modules;

namespace CaptionService.Training.Training;

/// <summary>Which parts train in a given epoch (the seed's staged unfreezing).</summary>
public static class Stages
{
    public static bool Trains(string parameterName, int epoch, TrainOptions o) =>
        Captioner.IsCrossAttention(parameterName)
        || (parameterName.StartsWith("decoder.") && epoch >= o.UnfreezeDecoderAt)
        || (parameterName.StartsWith("encoder.") && epoch >= o.UnfreezeEncoderAt);

    public static string Describe(int epoch, TrainOptions o) =>
        epoch >= o.UnfreezeEncoderAt && epoch >= o.UnfreezeDecoderAt ? "everything"
        : epoch >= o.UnfreezeDecoderAt ? "cross-attention + GPT-2 decoder"
        : epoch >= o.UnfreezeEncoderAt ? "cross-attention + ViT encoder"
        : "cross-attention only";

    /// <summary>Sets requires_grad for the epoch on every given model (master and working copy) and
    /// returns the number of trainable parameters.</summary>
    public static long Apply(int epoch, TrainOptions o, params Captioner[] models)
    {
        long trainable = 0;
        foreach (var model in models.Distinct())
        {
            trainable = 0;
            foreach (var (name, p) in model.named_parameters())
            {
                bool on = Trains(name, epoch, o);
                p.requires_grad = on;
                if (on) trainable += p.numel();
            }
        }
        return trainable;
    }

    public static IEnumerable<Parameter> Trainable(Captioner model) => model.parameters().Where(p => p.requires_grad);
}
