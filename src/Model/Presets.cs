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

    public static IReadOnlyDictionary<string, ModelConfig> All { get; } = new Dictionary<string, ModelConfig>
    {
        ["vit-b16-gpt2"] = VitB16Gpt2,
        ["hf-vit-gpt2"] = HfVitGpt2,
        ["tiny"] = Tiny,
    };

    public static ModelConfig Get(string name) =>
        All.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentException($"Unknown preset '{name}'. Known presets: {string.Join(", ", All.Keys)}");
}
