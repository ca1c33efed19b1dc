using CaptionService.Model.Generation;
using CaptionService.Model.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model.Text;

/// <summary>
/// One GPT-2 block with cross-attention (HF <c>h.{i}</c>), each sub-layer pre-norm with a residual:
/// x + SelfAttn(ln_1(x)), then x + CrossAttn(ln_cross_attn(x), image), then x + MLP(ln_2(x)).
/// The MLP keeps GPT-2's pretrained <c>ln_2</c>; cross-attention gets its own new norm.
/// </summary>
public sealed class DecoderBlock : NamedModule
{
    private readonly LayerNorm ln_1, ln_cross_attn, ln_2;
    private readonly SelfAttention attn;
    private readonly CrossAttention crossattention;
    private readonly Linear c_fc, c_proj;
    private readonly Dropout dropout;

    public DecoderBlock(ModelConfig config) : base(nameof(DecoderBlock))
    {
        int c = config.DecoderWidth;
        double eps = config.DecoderLayerNormEps;
        ln_1 = nn.LayerNorm(c, eps: eps);
        attn = new SelfAttention(c, config.DecoderHeads, config.AttentionDropout, config.ResidualDropout);
        ln_cross_attn = nn.LayerNorm(c, eps: eps);
        crossattention = new CrossAttention(c, config.EncoderWidth, config.DecoderHeads, config.AttentionDropout, config.ResidualDropout);
        ln_2 = nn.LayerNorm(c, eps: eps);
        c_fc = nn.Linear(c, config.DecoderMlpWidth);
        c_proj = nn.Linear(config.DecoderMlpWidth, c);
        dropout = nn.Dropout(config.MlpDropout);

        register_module("ln_1", ln_1);
        register_module("attn", attn);
        register_module("ln_cross_attn", ln_cross_attn);
        register_module("crossattention", crossattention);
        register_module("ln_2", ln_2);
        register_module("mlp", new Scope(("c_fc", c_fc), ("c_proj", c_proj), ("dropout", dropout)));
    }

    public CrossAttention Cross => crossattention;

    private BlockKernels? kernels;

    /// <summary>The block's six linear layers packed for <see cref="CpuKernels"/>.</summary>
    private sealed record BlockKernels(PackedLinear Attn, PackedLinear AttnProj, PackedLinear Query, PackedLinear CrossProj, PackedLinear Fc, PackedLinear MlpProj) : IDisposable
    {
        public void Dispose()
        {
            foreach (var p in new[] { Attn, AttnProj, Query, CrossProj, Fc, MlpProj }) p.Dispose();
        }
    }

    /// <summary>Packs the linear layers for <see cref="Step"/> (see <see cref="Captioner.UseCpuKernels"/>).</summary>
    internal void PackForCpuKernels()
    {
        kernels?.Dispose();
        kernels = null;
        var (selfAttn, selfProj) = attn.Layers;
        var (query, crossProj) = crossattention.StepLayers;
        kernels = new BlockKernels(PackedLinear.Of(selfAttn), PackedLinear.Of(selfProj), PackedLinear.Of(query), PackedLinear.Of(crossProj),
            PackedLinear.Of(c_fc), PackedLinear.Of(c_proj));
        crossattention.PackForCpuKernels();
    }

    /// <summary>
    /// One cached decoding step on the CPU kernels, the same math as <see cref="forward"/> with one new
    /// position per sequence: the linear layers (each sub-layer's LayerNorm before and GELU in the first MLP
    /// layer, fused in) and both attentions run on the kernels; each sub-layer's output is added into
    /// <paramref name="x"/> in place.
    /// </summary>
    /// <param name="x">[B, C] float32, the residual stream</param>
    internal void Step(Tensor x, KvCache cache, int layer)
    {
        var k = kernels!;
        var y = cache.AttendSelf(layer, k.Attn.Forward(x, ln_1));                              // [B, C]
        k.AttnProj.AddTo(x, y);
        y = cache.AttendCross(layer, k.Query.Forward(x, ln_cross_attn));                       // [B, C]
        k.CrossProj.AddTo(x, y);
        k.MlpProj.AddTo(x, k.Fc.ForwardGelu(x, ln_2));                                          // LayerNorm and GELU in the kernel
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            kernels?.Dispose();
            kernels = null;
        }
        base.Dispose(disposing);
    }

    /// <param name="x">[B, T, C]</param>
    /// <param name="crossKeys">[B, H, S, D] from <see cref="CrossAttention.KeysValues"/></param>
    /// <param name="cache">null for full causal attention over x; else one new position (T = 1)</param>
    public Tensor forward(Tensor x, Tensor crossKeys, Tensor crossValues, KvCache? cache = null, int layer = 0)
    {
        x = x.Plus(attn.forward(ln_1.forward(x), cache, layer));
        x = x.Plus(crossattention.forward(ln_cross_attn.forward(x), crossKeys, crossValues));
        // GPT-2's "gelu_new" is the tanh approximation.
        return x.Plus(dropout.forward(c_proj.Apply(F.gelu(c_fc.Apply(ln_2.forward(x)), approximate: GELU.Approximate.tanh))));
    }
}
