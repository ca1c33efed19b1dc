using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>
/// ViT and GPT-2 computed with plain tensor ops straight from source tensors, under the sources'
/// own names and layouts (timm/HF Linear [out, in], GPT-2 Conv1D [in, out]). It shares nothing
/// with the model code, so agreeing logits show the import put every tensor in the right place.
/// </summary>
internal static class Reference
{
    /// <summary>A source tensor by name, as fp32.</summary>
    public delegate Tensor Weights(string name);

    private static Tensor LayerNorm(Tensor x, Weights w, string name, double eps)
    {
        var mean = x.mean([-1], keepdim: true);
        var variance = (x - mean).pow(2).mean([-1], keepdim: true);
        return (x - mean) / (variance + eps).sqrt() * w(name + ".weight") + w(name + ".bias");
    }

    private static Tensor Linear(Tensor x, Weights w, string name) => x.matmul(w(name + ".weight").t()) + w(name + ".bias"); // [out, in]
    private static Tensor Conv1D(Tensor x, Weights w, string name) => x.matmul(w(name + ".weight")) + w(name + ".bias");     // [in, out]
    private static Tensor GeluExact(Tensor x) => 0.5 * x * (1 + special.erf(x / Math.Sqrt(2)));
    private static Tensor GeluTanh(Tensor x) => 0.5 * x * (1 + tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x.pow(3))));

    /// <summary>Multi-head softmax(q kᵀ / sqrt(d)) v on [B, T, C] inputs.</summary>
    private static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, bool causal)
    {
        Tensor Split(Tensor x) => x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2);
        var (qh, kh, vh) = (Split(q), Split(k), Split(v));
        var scores = qh.matmul(kh.transpose(-2, -1)) / Math.Sqrt(qh.shape[^1]);
        if (causal) scores = scores.masked_fill(ones(q.shape[1], k.shape[1], dtype: ScalarType.Bool).triu(1), double.NegativeInfinity);
        return scores.softmax(-1).matmul(vh).transpose(1, 2).reshape(q.shape[0], q.shape[1], -1);
    }

    private static Tensor Embed(Tensor pixels, Tensor patchWeight, Tensor patchBias, Tensor cls, Tensor pos)
    {
        var x = nn.functional.conv2d(pixels, patchWeight, patchBias, strides: [patchWeight.shape[2], patchWeight.shape[3]]).flatten(2).transpose(1, 2);
        return cat([cls.expand(pixels.shape[0], -1, -1), x], 1) + pos;
    }

    /// <summary>timm ViT: every block's output, and the final-normed last one (when <c>norm</c> is given).</summary>
    public static (Tensor[] Blocks, Tensor? Final) TimmVit(Weights w, Tensor pixels, int layers, int heads, bool finalNorm, double eps = 1e-6)
    {
        var x = Embed(pixels, w("patch_embed.proj.weight"), w("patch_embed.proj.bias"), w("cls_token"), w("pos_embed"));
        var blocks = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            var p = $"blocks.{i}.";
            var qkv = Linear(LayerNorm(x, w, p + "norm1", eps), w, p + "attn.qkv").chunk(3, -1);
            x = x + Linear(Attend(qkv[0], qkv[1], qkv[2], heads, causal: false), w, p + "attn.proj");
            x = x + Linear(GeluExact(Linear(LayerNorm(x, w, p + "norm2", eps), w, p + "mlp.fc1")), w, p + "mlp.fc2");
            blocks[i] = x;
        }
        return (blocks, finalNorm ? LayerNorm(x, w, "norm", eps) : null);
    }

    /// <summary>HF ViTModel's last hidden state (layer-normed), names under <c>encoder.</c>.</summary>
    public static Tensor HfVit(Weights w, Tensor pixels, int layers, int heads, double eps = 1e-12)
    {
        var x = Embed(pixels, w("encoder.embeddings.patch_embeddings.projection.weight"), w("encoder.embeddings.patch_embeddings.projection.bias"),
            w("encoder.embeddings.cls_token"), w("encoder.embeddings.position_embeddings"));
        for (int i = 0; i < layers; i++)
        {
            var p = $"encoder.encoder.layer.{i}.";
            var h = LayerNorm(x, w, p + "layernorm_before", eps);
            var a = Attend(Linear(h, w, p + "attention.attention.query"), Linear(h, w, p + "attention.attention.key"),
                Linear(h, w, p + "attention.attention.value"), heads, causal: false);
            x = x + Linear(a, w, p + "attention.output.dense");
            x = x + Linear(GeluExact(Linear(LayerNorm(x, w, p + "layernorm_after", eps), w, p + "intermediate.dense")), w, p + "output.dense");
        }
        return LayerNorm(x, w, "encoder.layernorm", eps);
    }

    /// <summary>GPT-2 with cross-attention (names relative to <c>transformer.</c>); block i reads
    /// <c>states[i]</c>, or <c>states[0]</c> when there is one. Returns logits from the tied head.</summary>
    public static Tensor Gpt2(Weights w, Tensor tokens, IReadOnlyList<Tensor> states, int layers, int heads, double eps = 1e-5)
    {
        var (b, t) = (tokens.shape[0], tokens.shape[1]);
        var wte = w("wte.weight");
        var x = wte.index_select(0, tokens.flatten()).view(b, t, -1) + w("wpe.weight")[..(int)t];
        for (int i = 0; i < layers; i++)
        {
            var p = $"h.{i}.";
            var qkv = Conv1D(LayerNorm(x, w, p + "ln_1", eps), w, p + "attn.c_attn").chunk(3, -1);
            x = x + Conv1D(Attend(qkv[0], qkv[1], qkv[2], heads, causal: true), w, p + "attn.c_proj");
            var q = Conv1D(LayerNorm(x, w, p + "ln_cross_attn", eps), w, p + "crossattention.q_attn");
            var kv = Conv1D(states[states.Count == 1 ? 0 : i], w, p + "crossattention.c_attn").chunk(2, -1);
            x = x + Conv1D(Attend(q, kv[0], kv[1], heads, causal: false), w, p + "crossattention.c_proj");
            x = x + Conv1D(GeluTanh(Conv1D(LayerNorm(x, w, p + "ln_2", eps), w, p + "mlp.c_fc")), w, p + "mlp.c_proj");
        }
        return LayerNorm(x, w, "ln_f", eps).matmul(wte.t());
    }
}
