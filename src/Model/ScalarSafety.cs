using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>
/// Tensor arithmetic with numbers, written so that no native <see cref="Scalar"/> can be freed while
/// libtorch is still reading it.
/// </summary>
/// <remarks>
/// The compiler holds this code to it: build/BannedSymbols.TorchScalars.txt bans, in src/Model and
/// src/Training, every implicit conversion of a number to a Scalar, the tensor operators that take a
/// number, and <c>x + y</c> on tensors (its alpha of 1 is such a Scalar); the forms below make theirs
/// explicitly. Upstream: TorchSharp's own operators are to dispose the Scalars they make
/// (https://github.com/dotnet/TorchSharp/pull/1434, and https://github.com/dotnet/TorchSharp/pull/1496
/// for the other implicit conversions), open and unreleased as of TorchSharp 0.107.
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
    private static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a * value</summary>
    public static Tensor Times(this Tensor a, double value) => With(value.ToScalar(), s => a.mul(s));

    /// <summary>a / value</summary>
    public static Tensor DividedBy(this Tensor a, double value) => With(value.ToScalar(), s => a.div(s));

    /// <summary>a / value, in place</summary>
    public static Tensor DivideInPlace(this Tensor a, double value) => With(value.ToScalar(), s => a.div_(s));

    /// <summary>a += value, in place (an integer, so integer tensors stay integer)</summary>
    public static Tensor AddInPlace(this Tensor a, long value) => With(value.ToScalar(), s => a.add_(s, One));

    /// <summary>Every element = value, in place.</summary>
    public static Tensor FillInPlace(this Tensor a, double value) => With(value.ToScalar(), s => a.fill_(s));

    /// <summary>value where mask is true, a elsewhere</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, double value) => With(value.ToScalar(), s => a.masked_fill(mask, s));

    /// <summary>a[indices] = value, in place</summary>
    public static Tensor IndexFillInPlace(this Tensor a, double value, params TensorIndex[] indices) => With(value.ToScalar(), s => a.index_put_(s, indices));

    /// <summary>max(a, value)</summary>
    public static Tensor AtLeast(this Tensor a, double value) => With(value.ToScalar(), s => a.clamp_min(s));

    /// <summary>a != value (bool)</summary>
    public static Tensor NotEqual(this Tensor a, long value) => With(value.ToScalar(), s => a.ne(s));

    /// <summary>a >= value (bool)</summary>
    public static Tensor AtLeastMask(this Tensor a, double value) => With(value.ToScalar(), s => a.ge(s));

    /// <summary>0, 1, ..., count - 1 (int64)</summary>
    public static Tensor Range(long count, Device? device = null) => With(count.ToScalar(), s => arange(s, dtype: ScalarType.Int64, device: device));

    /// <summary>[size] of value (int64)</summary>
    public static Tensor Filled(long size, long value, Device? device = null) => With(value.ToScalar(), s => full(size, s, dtype: ScalarType.Int64, device: device));

    /// <summary>Runs <paramref name="op"/> with a Scalar that lives until it returns, then frees it.</summary>
    private static Tensor With(Scalar value, Func<Scalar, Tensor> op)
    {
        using (value) return op(value);
    }
}
