using CaptionService.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Training;

/// <summary>
/// Mixed precision without autocast (TorchSharp has none), the way autocast splits the work: the
/// optimizer owns fp32 master weights (<c>master</c>); forward and backward run on a working copy
/// (<see cref="Work"/>) whose linear and convolution layers are in bf16 or fp16 while the norms, the
/// embeddings, the position tables and the residual stream stay fp32 (the model's layers cast their
/// input to their weights' dtype, and a low-precision output added to the fp32 stream is promoted).
/// After backward the working gradients are copied into fp32 master gradients, the optimizer steps
/// the masters, and the masters are copied back. fp16 adds dynamic loss scaling (skip the step and
/// halve the scale on inf/NaN gradients, double it after 2000 clean steps); bf16 needs none.
/// The loss is computed in fp32. With fp32 there is no copy: <see cref="Work"/> is the master.
/// </summary>
/// <remarks>A working copy entirely in bf16 (residual stream included) trained markedly slower from
/// scratch: what a block adds to the stream is rounded to 8 bits of the stream's size, and the small
/// early contributions that become shape features were lost.</remarks>
public sealed class MixedPrecision : IDisposable
{
    private readonly Captioner master;
    private readonly (Tensor Master, Tensor Work)[] pairs;
    private int cleanSteps;

    public Captioner Work { get; }
    public Precision Precision { get; }
    public double LossScale { get; private set; }

    public MixedPrecision(Captioner master, Precision precision)
    {
        this.master = master;
        Precision = precision;
        LossScale = precision == Precision.Fp16 ? 65536 : 1;
        if (precision == Precision.Fp32)
        {
            Work = master;
            pairs = [];
            return;
        }
        Work = new Captioner(master.Config, initialize: false); // weights copied from the masters below
        Work.to(master.Device);
        var dtype = TorchRuntime.ScalarTypeOf(precision);
        foreach (var module in Work.modules())
            if (module is TorchSharp.Modules.Linear or TorchSharp.Modules.Conv2d) module.to(dtype);
        var work = Work.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        pairs = master.named_parameters().Select(p => ((Tensor)p.parameter, work[p.name])).ToArray();
        CopyWeightsToWork();
    }

    public Tensor ScaleLoss(Tensor loss) => LossScale == 1 ? loss : loss.Times(LossScale);

    /// <summary>Moves the working gradients onto the masters (unscaled). False: they overflowed, skip this step.</summary>
    public bool PrepareGradients()
    {
        if (pairs.Length == 0) return true;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var checks = new List<Tensor>();
        bool scaled = Precision == Precision.Fp16;
        foreach (var (m, w) in pairs)
        {
            if (w.grad is null) { m.grad = null; continue; }
            var g = w.grad.to(ScalarType.Float32);
            if (LossScale != 1) g = g.DivideInPlace(LossScale);
            if (scaled) checks.Add(g.isfinite().all());
            m.grad = g.DetachFromDisposeScope();
        }
        // bf16 has fp32's range and needs no loss scaling, so no check (and no wait for the device). fp16: one
        // device-to-host read for all parameters, not one each.
        if (checks.Count == 0 || stack(checks).all().item<bool>()) return true;
        LossScale = Math.Max(1, LossScale / 2);
        cleanSteps = 0;
        return false;
    }

    /// <summary>After the optimizer stepped the masters.</summary>
    public void AfterStep()
    {
        if (pairs.Length == 0) return;
        CopyWeightsToWork();
        if (Precision == Precision.Fp16 && ++cleanSteps >= 2000) { LossScale *= 2; cleanSteps = 0; }
    }

    public void ZeroGrad()
    {
        master.zero_grad();
        if (!ReferenceEquals(Work, master)) Work.zero_grad();
    }

    private void CopyWeightsToWork()
    {
        using var noGrad = no_grad();
        foreach (var (m, w) in pairs) w.copy_(m);
    }

    public void Dispose()
    {
        if (!ReferenceEquals(Work, master)) Work.Dispose();
    }
}
