using CaptionService.Model.Generation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model;

/// <summary>Linear layers whose input may be in another precision than their weights.</summary>
internal static class Layers
{
    /// <summary><paramref name="layer"/>(x), with x cast to the layer's dtype first when it differs: in mixed
    /// precision (<see cref="Captioner.ToMixedPrecision"/>) the residual stream and the norms stay
    /// float32 while the linear layers compute in bf16 or fp16.</summary>
    public static Tensor Apply(this Linear layer, Tensor x)
    {
        var dtype = layer.weight!.dtype;
        return layer.forward(x.dtype == dtype ? x : x.to(dtype));
    }
}

/// <summary>Multi-head attention shape helpers shared by the ViT and GPT-2 attention layers.</summary>
internal static class Heads
{
    /// <summary>[B, T, H*D] -> [B, H, T, D]</summary>
    public static Tensor Split(Tensor x, int heads)
    {
        var (b, t, c) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.view(b, t, heads, c / heads).transpose(1, 2);
    }

    /// <summary>[B, H, T, D] -> [B, T, H*D]</summary>
    public static Tensor Merge(Tensor x)
    {
        var (b, h, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return x.transpose(1, 2).reshape(b, t, h * d);
    }
}

/// <summary>
/// GPT-2's causal self-attention (<c>h.{i}.attn</c>): fused <c>c_attn</c> (C -> 3C) and <c>c_proj</c>.
/// With a <see cref="KvCache"/>, each call takes one new position per sequence and attends to the
/// cached keys/values instead of recomputing the prefix.
/// </summary>
public sealed class SelfAttention : nn.Module
{
    private readonly Linear c_attn, c_proj;
    private readonly Dropout resid_dropout;
    private readonly int heads;
    private readonly double attnDropout;

    public SelfAttention(int width, int heads, double attentionDropout, double residualDropout) : base(nameof(SelfAttention))
    {
        c_attn = nn.Linear(width, 3 * width);
        c_proj = nn.Linear(width, width);
        resid_dropout = nn.Dropout(residualDropout);
        this.heads = heads;
        attnDropout = attentionDropout;
        RegisterComponents();
    }

    /// <param name="x">[B, T, C]</param>
    /// <param name="cache">null: full causal attention over x; else T must be 1 and layer's cache grows by one.</param>
    public Tensor forward(Tensor x, KvCache? cache = null, int layer = 0)
    {
        var qkv = c_attn.Apply(x).chunk(3, dim: -1);
        var (q, k, v) = (Heads.Split(qkv[0], heads), Heads.Split(qkv[1], heads), Heads.Split(qkv[2], heads)); // [B, H, T, D]
        Tensor y;
        if (cache is null)
        {
            y = F.scaled_dot_product_attention(q, k, v, p: training ? attnDropout : 0, is_casual: x.shape[1] > 1);
        }
        else
        {
            var (keys, values) = cache.Append(layer, k, v); // [B, H, L, D], L = longest cached sequence
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask: cache.Mask);
        }
        return resid_dropout.forward(c_proj.Apply(Heads.Merge(y)));
    }
}

/// <summary>
/// Cross-attention from the text to the image (<c>h.{i}.crossattention</c>, HF GPT-2 names):
/// queries from the decoder through <c>q_attn</c>, keys and values from the encoder states
/// through <c>c_attn</c> (E -> 2C), output through <c>c_proj</c>. Not causal.
/// </summary>
public sealed class CrossAttention : nn.Module
{
    private readonly Linear q_attn, c_attn, c_proj;
    private readonly Dropout resid_dropout;
    private readonly int heads;
    private readonly double attnDropout;

    public CrossAttention(int width, int encoderWidth, int heads, double attentionDropout, double residualDropout) : base(nameof(CrossAttention))
    {
        q_attn = nn.Linear(width, width);
        c_attn = nn.Linear(encoderWidth, 2 * width);
        c_proj = nn.Linear(width, width);
        resid_dropout = nn.Dropout(residualDropout);
        this.heads = heads;
        attnDropout = attentionDropout;
        RegisterComponents();
    }

    /// <summary>Keys and values of the encoder states, [B, H, S, D] each: computed once per image.</summary>
    public (Tensor Keys, Tensor Values) KeysValues(Tensor encoderStates)
    {
        var kv = c_attn.Apply(encoderStates).chunk(2, dim: -1);
        return (Heads.Split(kv[0], heads), Heads.Split(kv[1], heads));
    }

    /// <param name="x">[B, T, C]</param>
    /// <param name="keys">[B, H, S, D] from <see cref="KeysValues"/></param>
    public Tensor forward(Tensor x, Tensor keys, Tensor values)
    {
        var q = Heads.Split(q_attn.Apply(x), heads);
        var y = F.scaled_dot_product_attention(q, keys, values, p: training ? attnDropout : 0);
        return resid_dropout.forward(c_proj.Apply(Heads.Merge(y)));
    }
}
