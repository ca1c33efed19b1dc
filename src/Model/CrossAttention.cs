using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model;

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
