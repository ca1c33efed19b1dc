namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>
/// The state-dict keys and shapes of the real pretrained files (at any size; defaults are the real
/// sizes), so tests can write tiny look-alikes and check the full-size mapping without weights.
/// </summary>
internal static class SourceKeys
{
    /// <summary>timm <c>vit_base_patch16_224</c> (<c>model.safetensors</c>): Linear weights [out, in], fused qkv.</summary>
    public static Dictionary<string, long[]> TimmVit(int width = 768, int layers = 12, int mlp = 3072, int patch = 16, int image = 224,
        int classes = 1000)
    {
        long w = width, n = (image / patch) * (image / patch);
        var d = new Dictionary<string, long[]>
        {
            ["cls_token"] = [1, 1, w],
            ["pos_embed"] = [1, n + 1, w],
            ["patch_embed.proj.weight"] = [w, 3, patch, patch],
            ["patch_embed.proj.bias"] = [w],
        };
        for (int i = 0; i < layers; i++)
        {
            var p = $"blocks.{i}.";
            Norm(d, p + "norm1", w);
            Linear(d, p + "attn.qkv", w, 3 * w);
            Linear(d, p + "attn.proj", w, w);
            Norm(d, p + "norm2", w);
            Linear(d, p + "mlp.fc1", w, mlp);
            Linear(d, p + "mlp.fc2", mlp, w);
        }
        Norm(d, "norm", w);
        Linear(d, "head", w, classes);
        return d;
    }

    /// <summary>HF <c>gpt2</c> (GPT2Model/GPT2LMHeadModel): Conv1D weights [in, out].</summary>
    /// <param name="prefix">"" as in gpt2's model.safetensors, or "transformer." as in GPT2LMHeadModel</param>
    /// <param name="maskBuffers">the causal-mask buffers older files carry (<c>attn.bias</c>, <c>attn.masked_bias</c>)</param>
    public static Dictionary<string, long[]> Gpt2(int vocab = 50257, int positions = 1024, int width = 768, int layers = 12,
        int mlp = 3072, string prefix = "", bool lmHead = false, bool maskBuffers = false, bool crossAttention = false)
    {
        long w = width;
        var d = new Dictionary<string, long[]>
        {
            [prefix + "wte.weight"] = [vocab, w],
            [prefix + "wpe.weight"] = [positions, w],
        };
        for (int i = 0; i < layers; i++)
        {
            var p = $"{prefix}h.{i}.";
            Norm(d, p + "ln_1", w);
            Conv1D(d, p + "attn.c_attn", w, 3 * w);
            Conv1D(d, p + "attn.c_proj", w, w);
            if (maskBuffers)
            {
                d[p + "attn.bias"] = [1, 1, positions, positions];
                d[p + "attn.masked_bias"] = [];
            }
            if (crossAttention)
            {
                Norm(d, p + "ln_cross_attn", w);
                Conv1D(d, p + "crossattention.q_attn", w, w);
                Conv1D(d, p + "crossattention.c_attn", w, 2 * w);
                Conv1D(d, p + "crossattention.c_proj", w, w);
                if (maskBuffers)
                {
                    d[p + "crossattention.bias"] = [1, 1, positions, positions];
                    d[p + "crossattention.masked_bias"] = [];
                }
            }
            Norm(d, p + "ln_2", w);
            Conv1D(d, p + "mlp.c_fc", w, mlp);
            Conv1D(d, p + "mlp.c_proj", mlp, w);
        }
        Norm(d, prefix + "ln_f", w);
        if (lmHead) d["lm_head.weight"] = [vocab, w];
        return d;
    }

    /// <summary><c>nlpconnect/vit-gpt2-image-captioning</c>: HF ViTModel (with pooler) + GPT2LMHeadModel with
    /// cross-attention (MLP width 4 * width, GPT-2's n_inner = null).</summary>
    public static Dictionary<string, long[]> HfVitGpt2(int width = 768, int layers = 12, int mlp = 3072, int patch = 16, int image = 224,
        int vocab = 50257, int positions = 1024, bool lmHead = true, bool maskBuffers = true)
    {
        long w = width, n = (image / patch) * (image / patch);
        var d = new Dictionary<string, long[]>
        {
            ["encoder.embeddings.cls_token"] = [1, 1, w],
            ["encoder.embeddings.position_embeddings"] = [1, n + 1, w],
            ["encoder.embeddings.patch_embeddings.projection.weight"] = [w, 3, patch, patch],
            ["encoder.embeddings.patch_embeddings.projection.bias"] = [w],
        };
        for (int i = 0; i < layers; i++)
        {
            var p = $"encoder.encoder.layer.{i}.";
            Linear(d, p + "attention.attention.query", w, w);
            Linear(d, p + "attention.attention.key", w, w);
            Linear(d, p + "attention.attention.value", w, w);
            Linear(d, p + "attention.output.dense", w, w);
            Linear(d, p + "intermediate.dense", w, mlp);
            Linear(d, p + "output.dense", mlp, w);
            Norm(d, p + "layernorm_before", w);
            Norm(d, p + "layernorm_after", w);
        }
        Norm(d, "encoder.layernorm", w);
        Linear(d, "encoder.pooler.dense", w, w);
        foreach (var (name, shape) in Gpt2(vocab, positions, width, layers, 4 * width, "transformer.", lmHead, maskBuffers, crossAttention: true))
            d["decoder." + name] = shape;
        return d;
    }

    private static void Norm(Dictionary<string, long[]> d, string name, long width) =>
        (d[name + ".weight"], d[name + ".bias"]) = ([width], [width]);

    private static void Linear(Dictionary<string, long[]> d, string name, long input, long output) =>
        (d[name + ".weight"], d[name + ".bias"]) = ([output, input], [output]);

    private static void Conv1D(Dictionary<string, long[]> d, string name, long input, long output) =>
        (d[name + ".weight"], d[name + ".bias"]) = ([input, output], [output]);
}
