using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model.Kernels;

/// <summary>
/// A linear layer's weight packed once for <see cref="CpuKernels"/>, in its own dtype (fp32, or bf16
/// for a mixed-precision model), with its bias in fp32. Inputs and outputs are fp32 rows (bf16 too at
/// many rows, <see cref="Rows"/>); a bf16
/// layer rounds its input to bf16 as the libtorch path does, and accumulates in fp32. A copy: the
/// layer's weights must not change afterwards.
/// </summary>
public sealed class PackedLinear : IDisposable
{
    private readonly Tensor packed;
    private readonly Tensor? bias;

    /// <summary>Output features (N) and input features (K).</summary>
    public int Outputs { get; }
    public int Inputs { get; }

    public ScalarType DType { get; }

    /// <param name="weight">[N, K] on the CPU, fp32 or bf16</param>
    /// <param name="bias">[N] or null</param>
    public PackedLinear(Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        DType = weight.dtype;
        if (!CpuKernels.Supports(DType)) throw new NotSupportedException($"no CPU kernels for {DType} weights here ({CpuKernels.Status})");
        (Outputs, Inputs) = ((int)weight.shape[0], (int)weight.shape[1]);
        var w = weight.detach().contiguous();
        packed = empty(CpuKernels.PackedSize(DType, Outputs, Inputs), dtype: DType == ScalarType.BFloat16 ? ScalarType.Int16 : ScalarType.Float32);
        CpuKernels.Pack(w, packed);
        packed.DetachFromDisposeScope();
        this.bias = bias?.detach().to(ScalarType.Float32).contiguous().DetachFromDisposeScope();
    }

    public static PackedLinear Of(Linear layer) => new(layer.weight!, layer.bias);

    /// <summary>x Wᵀ + b, or LN(x) Wᵀ + b with <paramref name="norm"/> (a LayerNorm over K, fused in): [M, K] fp32 -> [M, N] fp32.</summary>
    public Tensor Forward(Tensor x, LayerNorm? norm = null) => Forward(x, norm, CpuKernels.LinearMode.Store);

    /// <summary>GPT-2's GELU (tanh approximation) of x Wᵀ + b (or of LN(x) Wᵀ + b), in one pass: [M, K] fp32 -> [M, N] fp32.</summary>
    public Tensor ForwardGelu(Tensor x, LayerNorm? norm = null) => Forward(x, norm, CpuKernels.LinearMode.GeluTanh);

    private Tensor Forward(Tensor x, LayerNorm? norm, CpuKernels.LinearMode mode)
    {
        x = CheckedRows(x);
        var y = empty(x.shape[0], Outputs, dtype: ScalarType.Float32);
        CpuKernels.Linear(x, Norm(norm), packed, Outputs, Inputs, bias, y, mode);
        return y;
    }

    /// <summary>A LayerNorm over the inputs as the kernels take it, checked.</summary>
    private (Tensor, Tensor, double)? Norm(LayerNorm? norm)
    {
        if (norm is null) return null;
        if (norm.weight is not { } w || norm.bias is not { } b || w.dtype != ScalarType.Float32 || b.dtype != ScalarType.Float32 || w.numel() != Inputs
            || b.numel() != Inputs || !w.is_contiguous() || !b.is_contiguous() || w.device_type != TorchSharp.DeviceType.CPU)
            throw new ArgumentException($"norm: expected a float32 LayerNorm over {Inputs} on the CPU, with weight and bias, got weight {norm.weight?.dtype} [{string.Join(", ", norm.weight?.shape ?? [])}]");
        return (w, b, norm.eps);
    }

    /// <summary>residual += x Wᵀ + b, in place: x [M, K], residual [M, N], both fp32.</summary>
    public void AddTo(Tensor residual, Tensor x)
    {
        x = CheckedRows(x);
        if (residual.dtype != ScalarType.Float32 || residual.dim() != 2 || residual.shape[0] != x.shape[0] || residual.shape[1] != Outputs || residual.stride(1) != 1)
            throw new ArgumentException($"residual: expected [{x.shape[0]}, {Outputs}] float32 rows, got [{string.Join(", ", residual.shape)}] {residual.dtype}");
        CpuKernels.Linear(x, null, packed, Outputs, Inputs, bias, residual, CpuKernels.LinearMode.Accumulate);
    }

    /// <summary>
    /// The same at many rows (the ViT's linear layers; bf16 weights only): [residual +] f(LN(x) Wᵀ + b),
    /// with the LayerNorm before and the GELU and residual add after fused into one pass.
    /// </summary>
    /// <param name="x">[M, K]: fp32, or bf16 without a norm</param>
    /// <param name="norm">a LayerNorm over K to apply to each row of x first (float32 weights), or null</param>
    /// <param name="residual">[M, N] fp32 rows to add, or null</param>
    /// <param name="into">where the output goes (may be <paramref name="residual"/>: added in place); null: a new
    /// tensor, fp32 with a residual, else bf16</param>
    /// <returns>[M, N]: <paramref name="into"/> or the new tensor</returns>
    public Tensor Rows(Tensor x, LayerNorm? norm = null, bool geluErf = false, Tensor? residual = null, Tensor? into = null)
    {
        if (DType != ScalarType.BFloat16) throw new NotSupportedException($"the many-row kernels take bf16 weights (these are {DType})");
        if (x.device_type != TorchSharp.DeviceType.CPU || x.dim() != 2 || x.shape[1] != Inputs || x.stride(1) != 1
            || (x.dtype != ScalarType.Float32 && (x.dtype != ScalarType.BFloat16 || norm is not null || Inputs % 2 != 0)))
            throw new ArgumentException($"x: expected [M, {Inputs}] CPU rows, float32 (or bfloat16 without a norm), got [{string.Join(", ", x.shape)}] {x.dtype} on {x.device}");
        long m = x.shape[0];
        if (residual is not null) CheckRows(residual, "residual", m, ScalarType.Float32);
        var y = into ?? empty(m, Outputs, dtype: residual is null ? ScalarType.BFloat16 : ScalarType.Float32);
        if (into is not null) CheckRows(into, "into", m, into.dtype == ScalarType.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32);
        CpuKernels.LinearRows(x, Norm(norm), packed, Outputs, Inputs, bias, residual, y, geluErf ? CpuKernels.LinearMode.GeluErf : CpuKernels.LinearMode.Store);
        return y;
    }

    private void CheckRows(Tensor t, string name, long m, ScalarType dtype)
    {
        if (t.dtype != dtype || t.device_type != TorchSharp.DeviceType.CPU || t.dim() != 2 || t.shape[0] != m || t.shape[1] != Outputs || t.stride(1) != 1)
            throw new ArgumentException($"{name}: expected [{m}, {Outputs}] {dtype} CPU rows, got [{string.Join(", ", t.shape)}] {t.dtype} on {t.device}");
    }

    /// <summary>x as [M, K] fp32 rows on the CPU, checked.</summary>
    private Tensor CheckedRows(Tensor x)
    {
        if (x.device_type != TorchSharp.DeviceType.CPU) throw new ArgumentException($"the CPU kernels take CPU tensors (got {x.device})");
        if (x.dim() != 2 || x.shape[1] != Inputs) throw new ArgumentException($"x: expected [M, {Inputs}], got [{string.Join(", ", x.shape)}]");
        if (x.dtype != ScalarType.Float32) x = x.to(ScalarType.Float32);
        return x.stride(1) == 1 ? x : x.contiguous();
    }

    public void Dispose()
    {
        packed.Dispose();
        bias?.Dispose();
    }
}
