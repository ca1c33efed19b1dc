using CaptionService.Model.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model.Vision;

/// <summary>
/// One pre-norm ViT block: x + Attn(LN(x)), then x + MLP(LN(x)), exact (erf) GELU.
/// The same math under either checkpoint's names:
/// timm <c>norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2</c>;
/// HF <c>layernorm_before, attention.attention.{query,key,value}, attention.output.dense,
/// layernorm_after, intermediate.dense, output.dense</c>.
/// </summary>
public sealed class VitBlock : NamedModule
{
    private readonly LayerNorm norm1, norm2;
    private readonly Linear? qkv;                  // timm: fused, C -> 3C
    private readonly Linear? query, key, value;    // HF: separate, C -> C each
    private readonly Linear proj, fc1, fc2;
    private readonly int heads;

    public VitBlock(ModelConfig config) : base(nameof(VitBlock))
    {
        int c = config.EncoderWidth;
        heads = config.EncoderHeads;
        norm1 = nn.LayerNorm(c, eps: config.EncoderEps);
        norm2 = nn.LayerNorm(c, eps: config.EncoderEps);
        proj = nn.Linear(c, c);
        fc1 = nn.Linear(c, config.EncoderMlpWidth);
        fc2 = nn.Linear(config.EncoderMlpWidth, c);
        if (config.EncoderLayout == EncoderLayout.Timm)
        {
            qkv = nn.Linear(c, 3 * c);
            register_module("norm1", norm1);
            register_module("attn", new Scope(("qkv", qkv), ("proj", proj)));
            register_module("norm2", norm2);
            register_module("mlp", new Scope(("fc1", fc1), ("fc2", fc2)));
        }
        else
        {
            (query, key, value) = (nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c));
            register_module("attention", new Scope(
                ("attention", new Scope(("query", query), ("key", key), ("value", value))),
                ("output", new Scope(("dense", proj)))));
            register_module("intermediate", new Scope(("dense", fc1)));
            register_module("output", new Scope(("dense", fc2)));
            register_module("layernorm_before", norm1);
            register_module("layernorm_after", norm2);
        }
    }

    /// <param name="x">[B, N+1, C]</param>
    public Tensor forward(Tensor x)
    {
        if (kernels is not null && !training && !is_grad_enabled() && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32)
            return OnKernels(x);
        x = x.Plus(Attention(norm1.forward(x)));
        return x.Plus(fc2.Apply(F.gelu(fc1.Apply(norm2.forward(x)))));
    }

    private Tensor Attention(Tensor x)
    {
        Tensor q, k, v;
        if (qkv is not null)
        {
            var parts = qkv.Apply(x).chunk(3, dim: -1);
            (q, k, v) = (parts[0], parts[1], parts[2]);
        }
        else
        {
            (q, k, v) = (query!.Apply(x), key!.Apply(x), value!.Apply(x));
        }
        var y = F.scaled_dot_product_attention(Heads.Split(q, heads), Heads.Split(k, heads), Heads.Split(v, heads));
        return proj.Apply(Heads.Merge(y));
    }

    private BlockKernels? kernels;

    /// <summary>The block's linear layers packed for <see cref="CpuKernels"/>: queries, keys and values as one.</summary>
    private sealed record BlockKernels(PackedLinear Qkv, PackedLinear Proj, PackedLinear Fc1, PackedLinear Fc2) : IDisposable
    {
        public void Dispose()
        {
            foreach (var p in new[] { Qkv, Proj, Fc1, Fc2 }) p.Dispose();
        }
    }

    /// <summary>Packs the linear layers (bf16 weights) for the kernel path of <see cref="forward"/>
    /// (see <see cref="Captioner.UseCpuKernels"/>).</summary>
    internal void PackForCpuKernels()
    {
        kernels?.Dispose();
        kernels = null;
        using var scope = NewDisposeScope();
        var fused = qkv is not null ? PackedLinear.Of(qkv)
            : new PackedLinear(cat([query!.weight!, key!.weight!, value!.weight!]), cat([query.bias!, key.bias!, value.bias!]));
        kernels = new BlockKernels(fused, PackedLinear.Of(proj), PackedLinear.Of(fc1), PackedLinear.Of(fc2));
    }

    /// <summary>
    /// The same block on the CPU kernels: LayerNorm, linear layer, bias, GELU and residual add fused, and the
    /// attention in bf16 straight from the fused projection. The residual stream stays float32; the input is
    /// not changed.
    /// </summary>
    private Tensor OnKernels(Tensor x)
    {
        var k = kernels!;
        var (b, n, c) = (x.shape[0], x.shape[1], x.shape[2]);
        var rows = x.reshape(-1, c);                                                  // [M, C], M = B(N+1)
        var y = CpuKernels.VitAttention(k.Qkv.Rows(rows, norm1), (int)b, (int)n, heads); // [M, C] bf16
        var h = k.Proj.Rows(y, residual: rows);                                       // x + attn: [M, C] fp32
        k.Fc2.Rows(k.Fc1.Rows(h, norm2, geluErf: true), residual: h, into: h);        // h += MLP(LN(h)), in place
        return h.view(b, n, c);
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
}
