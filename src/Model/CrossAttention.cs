using CaptionService.Model.Kernels;
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

    /// <summary>The linear layers of each step: queries and output (keys and values are computed once per image).</summary>
    internal (Linear Query, Linear Output) StepLayers => (q_attn, c_proj);

    /// <summary>Keys and values of the encoder states, [B, H, S, D] each: computed once per image.</summary>
    public (Tensor Keys, Tensor Values) KeysValues(Tensor encoderStates)
    {
        var kv = OnKernels(encoderStates) ? packedKeysValues!.Rows(encoderStates.reshape(-1, encoderStates.shape[2])).view(encoderStates.shape[0], encoderStates.shape[1], -1)
            : c_attn.Apply(encoderStates);
        var parts = kv.chunk(2, dim: -1);
        return (Heads.Split(parts[0], heads), Heads.Split(parts[1], heads));
    }

    private PackedLinear? packedKeysValues;

    /// <summary>Packs <c>c_attn</c> for the many-row kernels when its weights are bf16 (see <see cref="Captioner.UseCpuKernels"/>):
    /// the keys and values of every image token (at full size, 197 rows per image and block) are the largest product
    /// outside the encoder.</summary>
    internal void PackForCpuKernels()
    {
        packedKeysValues?.Dispose();
        packedKeysValues = c_attn.weight!.dtype == ScalarType.BFloat16 && CpuKernels.Bf16 ? PackedLinear.Of(c_attn) : null;
    }

    private bool OnKernels(Tensor x) =>
        packedKeysValues is not null && !training && !is_grad_enabled() && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.dim() == 3;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            packedKeysValues?.Dispose();
            packedKeysValues = null;
        }
        base.Dispose(disposing);
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
