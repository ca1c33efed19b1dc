using CaptionService.Model.Imaging;

namespace CaptionService.Model;

/// <summary>Named model sizes.</summary>
public static class Presets
{
    /// <summary>The seed: timm ViT-B/16 at 224 px + GPT-2 small, interleaved cross-attention; images resized
    /// to the input size with Pillow's bicubic (the timm ViT's interpolation), no crop.</summary>
    public static ModelConfig VitB16Gpt2 { get; } = new() { Preprocessing = PreprocessingConfig.Seed(ResampleFilter.Bicubic) };

    /// <summary>The public ViT-GPT2 captioners' shape: HF ViT-B/16 + GPT-2 small, final cross-attention.</summary>
    public static ModelConfig HfVitGpt2 { get; } = new()
    {
        EncoderLayout = EncoderLayout.HfVit,
        CrossAttention = CrossAttentionMode.Final,
        Preprocessing = PreprocessingConfig.Seed(ResampleFilter.Bilinear, "ViTImageProcessor defaults: resize to the input size (bilinear), no crop"),
    };

    /// <summary>A few layers, small width, 32 px images: for tests and CPU demos. Full GPT-2 vocabulary.</summary>
    public static ModelConfig Tiny { get; } = new()
    {
        ImageSize = 32,
        PatchSize = 8,
        EncoderLayers = 2,
        EncoderWidth = 64,
        EncoderHeads = 4,
        EncoderMlpWidth = 256,
        DecoderLayers = 2,
        DecoderWidth = 64,
        DecoderHeads = 4,
        DecoderMlpWidth = 256,
        MaxPositions = 64,
        Preprocessing = PreprocessingConfig.Seed(ResampleFilter.Bicubic),
        Decoding = new DecodingOptions { MaxNewTokens = 20 },
    };

    /// <summary>
    /// From scratch on a small custom set, on a CPU: 96 px images in 16 px patches (a 6 x 6 grid) made by a
    /// convolutional stem (four 3 x 3 stride-2 convolutions, He-initialized: a ViT this small does not learn shapes
    /// from a linear patch map on a few thousand images), a 4-block ViT of width 128 and a 4-block GPT-2 of width 64
    /// reading the final encoder states. With the vocabulary of its captions (<c>train --vocabulary captions</c>, the
    /// default) it is about 1.2 M parameters (1,218,848 with the 42 tokens of the synthetic shapes: 4.9 MB in fp32);
    /// with GPT-2's 50,257 tokens, 4.4 M. 8 px patches (a 12 x 12 grid) cost twice as much per training step on the
    /// CPU (296 against 145 ms for forward and backward at batch 32 in bf16, 2 cores).
    /// </summary>
    public static ModelConfig Small { get; } = new()
    {
        ImageSize = 96,
        PatchSize = 16,
        PatchStem = PatchStem.Conv,
        EncoderLayers = 4,
        EncoderWidth = 128,
        EncoderHeads = 4,
        EncoderMlpWidth = 512,
        DecoderLayers = 4,
        DecoderWidth = 64,
        DecoderHeads = 4,
        DecoderMlpWidth = 256,
        CrossAttention = CrossAttentionMode.Final,
        MaxPositions = 64,
        Preprocessing = PreprocessingConfig.Seed(ResampleFilter.Bicubic),
        // Small sets underfit before they overfit: no dropout (augmentation and more images regularize).
        EmbeddingDropout = 0,
        AttentionDropout = 0,
        ResidualDropout = 0,
        MlpDropout = 0,
        Decoding = new DecodingOptions { MaxNewTokens = 24 },
    };

    public static IReadOnlyDictionary<string, ModelConfig> All { get; } = new Dictionary<string, ModelConfig>
    {
        ["vit-b16-gpt2"] = VitB16Gpt2,
        ["hf-vit-gpt2"] = HfVitGpt2,
        ["tiny"] = Tiny,
        ["small"] = Small,
    };

    public static ModelConfig Get(string name) =>
        All.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentException($"Unknown preset '{name}'. Known presets: {string.Join(", ", All.Keys)}");
}
