using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>
/// Tensor arithmetic with numbers, written so that no native <see cref="Scalar"/> can be freed while
/// libtorch is still reading it.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns numbers into native Scalars implicitly (<c>x + y</c> is
/// <c>x.add(y, 1)</c>, <c>t * 2.0</c> is <c>t.mul((Scalar)2.0)</c>), hands only their raw handle to
/// native code, and leaves them to the GC: a collection triggered by another thread during the call
/// can finalize, and free, the Scalar while libtorch is still reading it. Training crashed that way
/// ("Expected false to be true" from <c>c10::Scalar::toBFloat16</c> inside <c>add</c>). Dispose
/// scopes do not track Scalars. Here every Scalar is either a static that is never collected or a
/// <c>using</c> local, alive until the call returns and then freed at once.
/// </remarks>
public static class ScalarSafety
{
    private static readonly Scalar One = 1;

    /// <summary>a + b</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a * value</summary>
    public static Tensor Times(this Tensor a, double value) => With(value, s => a.mul(s));

    /// <summary>a / value</summary>
    public static Tensor DividedBy(this Tensor a, double value) => With(value, s => a.div(s));

    /// <summary>a / value, in place</summary>
    public static Tensor DivideInPlace(this Tensor a, double value) => With(value, s => a.div_(s));

    /// <summary>a += value, in place (an integer, so integer tensors stay integer)</summary>
    public static Tensor AddInPlace(this Tensor a, long value) => With(value, s => a.add_(s, One));

    /// <summary>Every element = value, in place.</summary>
    public static Tensor FillInPlace(this Tensor a, double value) => With(value, s => a.fill_(s));

    /// <summary>value where mask is true, a elsewhere</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value) => With(value, s => a.masked_fill(mask, s));

    /// <summary>a[indices] = value, in place</summary>
    public static Tensor IndexFillInPlace(this Tensor a, double value, params TensorIndex[] indices) => With(value, s => a.index_put_(s, indices));

    /// <summary>max(a, value)</summary>
    public static Tensor AtLeast(this Tensor a, double value) => With(value, s => a.clamp_min(s));

    /// <summary>a != value (bool)</summary>
    public static Tensor NotEqual(this Tensor a, long value) => With(value, s => a.ne(s));

    /// <summary>a >= value (bool)</summary>
    public static Tensor AtLeastMask(this Tensor a, double value) => With(value, s => a.ge(s));

    /// <summary>Runs <paramref name="op"/> with a Scalar that lives until it returns, then frees it.</summary>
    private static Tensor With(Scalar value, Func<Scalar, Tensor> op)
    {
        using (value) return op(value);
    }
}

/// <summary>
/// Holds garbage collections off while a piece of TorchSharp code that we cannot change (its
/// optimizers, which pass implicitly created Scalars to native code) runs: with no collection, no
/// finalizer can free one of those Scalars mid-call. See <see cref="ScalarSafety"/>.
/// </summary>
public static class NoGcRegion
{
    /// <param name="budget">Bytes the whole process may allocate before the runtime collects anyway.</param>
    public static void Run(Action action, long budget = 64L << 20)
    {
        bool started = false;
        try
        {
            started = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(budget);
        }
        catch (ArgumentOutOfRangeException)
        {
            // A budget the GC cannot reserve: run unprotected rather than not at all.
        }
        try
        {
            action();
        }
        finally
        {
            // The region also ends by itself if the budget ran out; only end one that is still open.
            if (started && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                GC.EndNoGCRegion();
        }
    }
}
