using System.Text.Json;
using System.Text.Json.Serialization;
using CaptionService.Model.Imaging;

namespace CaptionService.Model;

/// <summary>How the ViT's parameters are laid out and named (and which LayerNorm eps it uses).</summary>
public enum EncoderLayout
{
    /// <summary>timm <c>vit_base_patch16_224</c>: fused qkv, eps 1e-6, names <c>blocks.{i}.attn.qkv</c>.</summary>
    Timm,
    /// <summary>HF <c>ViTModel</c>: separate query/key/value, eps 1e-12, names <c>encoder.layer.{i}.attention.attention.query</c>.</summary>
    HfVit,
}

/// <summary>Which encoder states each decoder block's cross-attention reads.</summary>
public enum CrossAttentionMode
{
    /// <summary>The seed: decoder block i attends to the output of encoder block i (no final encoder norm).</summary>
    Interleaved,
    /// <summary>HF VisionEncoderDecoder: every decoder block attends to the final, layer-normed encoder output.</summary>
    Final,
}

/// <summary>How the ViT turns pixels into patch vectors.</summary>
public enum PatchStem
{
    /// <summary>The ViT's own: one P x P convolution with stride P (a linear map of each patch).</summary>
    Linear,
    /// <summary>log2(P) 3 x 3 convolutions of stride 2 with GELU, then a 1 x 1 projection ("Early convolutions help
    /// transformers see better", Xiao et al. 2021): edges and corners before the first block, which a small ViT
    /// trained from scratch on a small set does not learn from a linear patch map.</summary>
    Conv,
}

/// <summary>
/// Everything that fixes the network's shapes and behaviour. Serialized as a checkpoint's
/// <c>config.json</c> (snake_case keys, kebab-case enum values).
/// </summary>
public sealed record ModelConfig
{
    // ---- Vision encoder (ViT) ----
    public EncoderLayout EncoderLayout { get; init; } = EncoderLayout.Timm;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    /// <summary>Written only when not the ViT's own linear map, so every other config.json stays as it was.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public PatchStem PatchStem { get; init; } = PatchStem.Linear;
    public int NumChannels { get; init; } = 3;
    public int EncoderLayers { get; init; } = 12;
    public int EncoderWidth { get; init; } = 768;
    public int EncoderHeads { get; init; } = 12;
    public int EncoderMlpWidth { get; init; } = 3072;
    /// <summary>null: the layout's own (timm 1e-6, HF ViT 1e-12).</summary>
    public double? EncoderLayerNormEps { get; init; }

    // ---- Text decoder (GPT-2 with cross-attention) ----
    public int VocabSize { get; init; } = 50257;
    public int MaxPositions { get; init; } = 1024;
    public int DecoderLayers { get; init; } = 12;
    public int DecoderWidth { get; init; } = 768;
    public int DecoderHeads { get; init; } = 12;
    public int DecoderMlpWidth { get; init; } = 3072;
    public double DecoderLayerNormEps { get; init; } = 1e-5;
    public CrossAttentionMode CrossAttention { get; init; } = CrossAttentionMode.Interleaved;

    // ---- Dropouts (decoder; the ViT has none, like timm's defaults) ----
    public double EmbeddingDropout { get; init; } = 0.1;
    public double AttentionDropout { get; init; } = 0.1;
    public double ResidualDropout { get; init; } = 0.1;
    public double MlpDropout { get; init; } = 0.1;

    // ---- Image preprocessing ----
    public float[] ImageMean { get; init; } = [0.5f, 0.5f, 0.5f];
    public float[] ImageStd { get; init; } = [0.5f, 0.5f, 0.5f];
    /// <summary>Resize, crop and rescale before normalizing. null (checkpoints written before this existed):
    /// <see cref="PreprocessingConfig.Legacy"/>, ImageSharp's bicubic to image_size, which they were trained with.</summary>
    public PreprocessingConfig? Preprocessing { get; init; }

    // ---- Tokens ----
    public string Tokenizer { get; init; } = "gpt2";
    public int BosTokenId { get; init; } = 50256;
    public int EosTokenId { get; init; } = 50256;
    public int PadTokenId { get; init; } = 50256;
    /// <summary>
    /// The tokenizer id each row of the embedding stands for, when the model has a vocabulary of its own: the
    /// tokens of its training captions (<see cref="Text.CaptionTokenizer.WithVocabularyOf"/>), as classic captioners
    /// build theirs, instead of all 50,257 of GPT-2. Row i is GPT-2 token <c>TokenIds[i]</c>; the special ids above
    /// and <see cref="VocabSize"/> count rows. null (every imported model): row i is token i.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? TokenIds { get; init; }

    public DecodingOptions Decoding { get; init; } = new();

    [JsonIgnore] public double EncoderEps => EncoderLayerNormEps ?? (EncoderLayout == EncoderLayout.Timm ? 1e-6 : 1e-12);
    [JsonIgnore] public int NumPatches => (ImageSize / PatchSize) * (ImageSize / PatchSize);
    /// <summary>The steps images get: <see cref="Preprocessing"/>, or the legacy ones when it is absent.</summary>
    [JsonIgnore] public PreprocessingConfig EffectivePreprocessing => Preprocessing ?? PreprocessingConfig.Legacy;

    /// <summary>Every inconsistency, each naming its field; empty when the config is usable.</summary>
    public IEnumerable<string> Validate()
    {
        if (ImageSize <= 0 || PatchSize <= 0 || ImageSize % PatchSize != 0)
            yield return $"image_size ({ImageSize}) must be a positive multiple of patch_size ({PatchSize})";
        if (PatchStem == PatchStem.Conv && (PatchSize < 2 || (PatchSize & (PatchSize - 1)) != 0))
            yield return $"patch_stem 'conv' needs a patch_size that is a power of 2 (got {PatchSize})";
        if (PatchStem == PatchStem.Conv && EncoderLayout != EncoderLayout.Timm)
            yield return "patch_stem 'conv' is for the timm layout (models trained from scratch)";
        if (NumChannels != 3) yield return $"num_channels must be 3 (got {NumChannels})";
        if (EncoderLayers < 1) yield return $"encoder_layers must be at least 1 (got {EncoderLayers})";
        if (DecoderLayers < 1) yield return $"decoder_layers must be at least 1 (got {DecoderLayers})";
        if (EncoderHeads < 1 || EncoderWidth % EncoderHeads != 0)
            yield return $"encoder_width ({EncoderWidth}) must be divisible by encoder_heads ({EncoderHeads})";
        if (DecoderHeads < 1 || DecoderWidth % DecoderHeads != 0)
            yield return $"decoder_width ({DecoderWidth}) must be divisible by decoder_heads ({DecoderHeads})";
        if (CrossAttention == CrossAttentionMode.Interleaved && EncoderLayers != DecoderLayers)
            yield return $"cross_attention 'interleaved' needs encoder_layers ({EncoderLayers}) == decoder_layers ({DecoderLayers})";
        if (VocabSize < 1) yield return $"vocab_size must be positive (got {VocabSize})";
        if (TokenIds is not null)
        {
            if (TokenIds.Length != VocabSize)
                yield return $"token_ids has {TokenIds.Length} ids but vocab_size is {VocabSize}";
            if (TokenIds.Any(id => id < 0 || id >= Text.Gpt2Vocabulary.Size))
                yield return $"token_ids must be GPT-2 token ids in [0, {Text.Gpt2Vocabulary.Size})";
            if (TokenIds.Distinct().Count() != TokenIds.Length) yield return "token_ids must not repeat an id";
        }
        if (MaxPositions < 2) yield return $"max_positions must be at least 2 (got {MaxPositions})";
        foreach (var (name, id) in new[] { ("bos_token_id", BosTokenId), ("eos_token_id", EosTokenId), ("pad_token_id", PadTokenId) })
            if (id < 0 || id >= VocabSize) yield return $"{name} ({id}) must be below vocab_size ({VocabSize})";
        if (ImageMean.Length != NumChannels) yield return $"image_mean must have {NumChannels} values (got {ImageMean.Length})";
        if (ImageStd.Length != NumChannels || ImageStd.Any(s => !(s > 0)))
            yield return $"image_std must have {NumChannels} positive values";
        if (ImageSize > 0)
            foreach (var e in EffectivePreprocessing.Validate(ImageSize)) yield return "preprocessing." + e;
        foreach (var (name, p) in new[] { ("embedding_dropout", EmbeddingDropout), ("attention_dropout", AttentionDropout), ("residual_dropout", ResidualDropout), ("mlp_dropout", MlpDropout) })
            if (!(p >= 0 && p < 1)) yield return $"{name} must be in [0, 1) (got {p})";
        foreach (var e in Decoding.Validate()) yield return "decoding." + e;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public ModelConfig EnsureValid()
    {
        var errors = Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException("Invalid model config: " + string.Join("; ", errors));
        return this;
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelConfig FromJson(string json, string source = "config.json")
    {
        try
        {
            var config = JsonSerializer.Deserialize<ModelConfig>(json, Json)
                ?? throw new InvalidDataException($"{source}: empty config");
            return config;
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is long line ? $" (line {line + 1}, {e.Path})" : "";
            throw new InvalidDataException($"{source}{where}: {e.Message}", e);
        }
    }
}
