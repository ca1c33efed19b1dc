using System.Text.RegularExpressions;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// Hugging Face GPT-2's checkpoint conventions, shared by both importers: names (optionally under
/// <c>transformer.</c>), Conv1D weights stored [in, out], causal-mask buffers, the tied lm_head, and
/// the sizes in its <c>config.json</c>.
/// </summary>
internal static partial class Gpt2
{
    public const string TokenEmbedding = "decoder.transformer.wte.weight";

    /// <summary>Maps a <c>GPT2LMHeadModel</c> state-dict name (with or without <c>transformer.</c>) to ours.</summary>
    public static WeightMapping Map(string name)
    {
        if (name == "lm_head.weight") return WeightMapping.TiedTo(TokenEmbedding); // our head is wte itself
        if (name.StartsWith("transformer.")) name = name["transformer.".Length..];
        if (MaskBuffer().IsMatch(name)) return WeightMapping.Ignore("causal-mask buffer");
        var target = "decoder.transformer." + name;
        return Conv1DWeight().IsMatch(name) ? WeightMapping.Transpose(target) : WeightMapping.Copy(target);
    }

    // Conv1D weights are [in, out], e.g. h.0.attn.c_attn.weight [768, 2304]; their biases need nothing.
    [GeneratedRegex(@"^h\.\d+\.(attn\.(c_attn|c_proj)|crossattention\.(q_attn|c_attn|c_proj)|mlp\.(c_fc|c_proj))\.weight$")]
    private static partial Regex Conv1DWeight();

    // Older transformers versions saved the causal mask (bool/uint8) and its fill value as buffers.
    [GeneratedRegex(@"^h\.\d+\.(attn|crossattention)\.(bias|masked_bias)$")]
    private static partial Regex MaskBuffer();

    /// <summary>Decoder sizes read off the tensors (width, vocabulary, positions, layers, MLP width); heads stay as given.</summary>
    public static ModelConfig SizesFromShapes(ModelConfig config, IReadOnlyDictionary<string, long[]> shapes, string path)
    {
        string Find(string name) => shapes.ContainsKey(name) ? name : "transformer." + name;
        if (!shapes.TryGetValue(Find("wte.weight"), out var wte))
            throw new InvalidDataException($"{path}: no 'wte.weight' (or 'transformer.wte.weight'): not a GPT-2 checkpoint");
        var layers = shapes.Keys.Select(k => LayerIndex().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        return config with
        {
            VocabSize = (int)wte[0],
            DecoderWidth = (int)wte[1],
            MaxPositions = shapes.TryGetValue(Find("wpe.weight"), out var wpe) ? (int)wpe[0] : config.MaxPositions,
            DecoderLayers = layers.Count > 0 ? layers.Max() + 1 : config.DecoderLayers,
            DecoderMlpWidth = shapes.TryGetValue(Find("h.0.mlp.c_fc.weight"), out var fc) ? (int)fc[1] : 4 * (int)wte[1], // Conv1D [in, out]
        };
    }

    [GeneratedRegex(@"^(?:transformer\.)?h\.(\d+)\.")]
    private static partial Regex LayerIndex();

    /// <summary>Applies a GPT-2 <c>config.json</c> (or a VisionEncoderDecoder's <c>decoder</c> object).</summary>
    public static ModelConfig ApplyConfig(ModelConfig config, JsonFile json)
    {
        var activation = json.String("activation_function") ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh"))
            throw json.Error("activation_function", $"is '{activation}'; this decoder implements only gelu_new (tanh-approximate GELU)");
        if (json.Bool("scale_attn_by_inverse_layer_idx") == true)
            throw json.Error("scale_attn_by_inverse_layer_idx", "is true, which this decoder does not implement");
        if (json.Bool("scale_attn_weights") == false)
            throw json.Error("scale_attn_weights", "is false, which this decoder does not implement");

        int width = json.Int("n_embd") ?? config.DecoderWidth;
        double residual = json.Double("resid_pdrop") ?? config.ResidualDropout;
        return config with
        {
            VocabSize = json.Int("vocab_size") ?? config.VocabSize,
            MaxPositions = json.Int("n_positions") ?? json.Int("n_ctx") ?? config.MaxPositions,
            DecoderWidth = width,
            DecoderLayers = json.Int("n_layer") ?? config.DecoderLayers,
            DecoderHeads = json.Int("n_head") ?? config.DecoderHeads,
            DecoderMlpWidth = json.Int("n_inner") ?? 4 * width, // null in GPT-2's config: 4 * n_embd
            DecoderLayerNormEps = json.Double("layer_norm_epsilon") ?? config.DecoderLayerNormEps,
            EmbeddingDropout = json.Double("embd_pdrop") ?? config.EmbeddingDropout,
            AttentionDropout = json.Double("attn_pdrop") ?? config.AttentionDropout,
            ResidualDropout = residual,
            MlpDropout = residual, // GPT-2 drops the MLP output with resid_pdrop
        };
    }
}
