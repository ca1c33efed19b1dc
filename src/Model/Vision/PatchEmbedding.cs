using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model.Vision;

/// <summary>
/// Cuts the image into non-overlapping P x P patches and projects each to the encoder width: a
/// Conv2d with kernel = stride = P (timm <c>patch_embed.proj</c>, HF <c>patch_embeddings.projection</c>).
/// </summary>
public sealed class PatchEmbedding : NamedModule
{
    private readonly Conv2d proj;

    public PatchEmbedding(ModelConfig config) : base(nameof(PatchEmbedding))
    {
        proj = nn.Conv2d(config.NumChannels, config.EncoderWidth, kernel_size: config.PatchSize, stride: config.PatchSize);
        register_module(config.EncoderLayout == EncoderLayout.Timm ? "proj" : "projection", proj);
    }

    /// <param name="pixels">[B, 3, S, S]</param>
    /// <returns>[B, N, C] with N = (S/P)^2, patches in row-major order</returns>
    public Tensor forward(Tensor pixels) => proj.forward(pixels).flatten(2).transpose(1, 2);
}
