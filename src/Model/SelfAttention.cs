using CaptionService.Model.Generation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model;

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
