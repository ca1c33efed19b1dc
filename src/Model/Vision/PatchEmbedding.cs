using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model.Vision;

/// <summary>
/// Turns the image into one vector per P x P patch. <see cref="PatchStem.Linear"/> (the ViT's): a Conv2d with
/// kernel = stride = P (timm <c>patch_embed.proj</c>, HF <c>patch_embeddings.projection</c>).
/// <see cref="PatchStem.Conv"/>: log2(P) 3 x 3 stride-2 convolutions with GELU (<c>patch_embed.stem.{0,2,4..}</c>,
/// widths C/2^(k-1) .. C), then a 1 x 1 <c>proj</c>; the same grid of patches, each seen through overlapping windows.
/// </summary>
public sealed class PatchEmbedding : NamedModule
{
    private readonly Sequential? stem;
    private readonly Conv2d proj;

    public PatchEmbedding(ModelConfig config) : base(nameof(PatchEmbedding))
    {
        if (config.PatchStem == PatchStem.Conv)
        {
            int stages = System.Numerics.BitOperations.Log2((uint)config.PatchSize);
            var layers = new List<nn.Module<Tensor, Tensor>>();
            int channels = config.NumChannels;
            for (int k = stages - 1; k >= 0; k--)
            {
                int width = Math.Max(config.EncoderWidth >> k, 8);
                layers.Add(nn.Conv2d(channels, width, kernel_size: 3, stride: 2, padding: 1));
                layers.Add(nn.GELU());
                channels = width;
            }
            stem = nn.Sequential(layers);
            register_module("stem", stem);
            proj = nn.Conv2d(channels, config.EncoderWidth, kernel_size: 1);
            register_module("proj", proj);
            return;
        }
        proj = nn.Conv2d(config.NumChannels, config.EncoderWidth, kernel_size: config.PatchSize, stride: config.PatchSize);
        register_module(config.EncoderLayout == EncoderLayout.Timm ? "proj" : "projection", proj);
    }

    /// <param name="pixels">[B, 3, S, S]</param>
    /// <returns>[B, N, C] with N = (S/P)^2, patches in row-major order</returns>
    public Tensor forward(Tensor pixels)
    {
        var x = stem is null ? pixels : stem.forward(pixels);                     // conv stem: [B, C, S/P, S/P]
        return proj.forward(x).flatten(2).transpose(1, 2);
    }
}
