using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Model.Imaging;

/// <summary>
/// Pillow's <c>Image.resize(size, resample)</c> for 8-bit RGB images, on ImageSharp's pixel buffers, so that
/// a model sees the pixels that Hugging Face's image processors and timm's (torchvision's) transforms gave it
/// in training. Both hand 8-bit PIL images to Pillow's resize with no <c>reducing_gap</c>.
/// </summary>
/// <remarks>
/// Follows Pillow's <c>libImaging/Resample.c</c> (and <c>Geometry.c</c> for nearest): a separable resize,
/// horizontal pass first over only the rows the vertical pass reads, then the vertical pass; each pass
/// convolves with the filter stretched by the scale when shrinking (antialiasing), normalizes the weights
/// to sum 1, turns them into 22-bit fixed point, and rounds and clamps to 8 bits, so the intermediate image
/// is 8-bit too. A pass whose size does not change is skipped. On the parity fixtures (tests/Model.Tests/Imaging/
/// fixtures) this gives Pillow's values exactly; ImageSharp's own resamplers, float arithmetic with their own
/// kernels, were up to 28 grey levels off for bicubic, 44 for lanczos, 73 for box (its triangle filter was
/// within 1, but on 5% of the values).
/// </remarks>
public static class Resampler
{
    /// <summary>Pillow's <c>PRECISION_BITS</c>: 32 - 8 bits for the result - 2 for overshoot and sign.</summary>
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>A resized copy of <paramref name="source"/> (left unchanged), <paramref name="width"/> x <paramref name="height"/>.</summary>
    /// <param name="filter">any of Pillow's six filters (not <see cref="ResampleFilter.ImageSharpBicubic"/>)</param>
    public static Image<Rgb24> Resize(Image<Rgb24> source, int width, int height, ResampleFilter filter) =>
        Resize(source, width, height, filter, new Rectangle(0, 0, width, height));

    /// <summary>
    /// The part <paramref name="window"/> of <paramref name="source"/> resized to <paramref name="width"/> x
    /// <paramref name="height"/>: the same pixels as resizing, then cropping, but only the window is computed,
    /// so that a resize that keeps the aspect ratio of a very thin image (then crops it) costs no more than
    /// the window.
    /// </summary>
    public static Image<Rgb24> Resize(Image<Rgb24> source, int width, int height, ResampleFilter filter, Rectangle window)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), $"The target size must be positive (got {width} x {height}).");
        if (window.Width < 1 || window.Height < 1 || window.Left < 0 || window.Top < 0 || window.Right > width || window.Bottom > height)
            throw new ArgumentOutOfRangeException(nameof(window), $"The window {window} is not inside {width} x {height}.");
        if (width == source.Width && height == source.Height) return source.Clone(x => x.Crop(window)); // Pillow copies
        var target = new Image<Rgb24>(source.GetConfiguration(), window.Width, window.Height);
        try
        {
            if (filter == ResampleFilter.Nearest) Nearest(source, target, width, height, window);
            else Convolve(source, target, width, height, window, Kernel.For(filter));
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    // ---------------- Filters (Resample.c) ----------------

    private sealed record Kernel(Func<double, double> Weight, double Support)
    {
        public static Kernel For(ResampleFilter filter) => filter switch
        {
            ResampleFilter.Box => new(BoxWeight, 0.5),
            ResampleFilter.Bilinear => new(BilinearWeight, 1.0),
            ResampleFilter.Hamming => new(HammingWeight, 1.0),
            ResampleFilter.Bicubic => new(BicubicWeight, 2.0),
            ResampleFilter.Lanczos => new(LanczosWeight, 3.0),
            _ => throw new ArgumentException($"{filter} is not one of Pillow's filters.", nameof(filter)),
        };

        private static double BoxWeight(double x) => x > -0.5 && x <= 0.5 ? 1.0 : 0.0;

        private static double BilinearWeight(double x)
        {
            x = Math.Abs(x);
            return x < 1.0 ? 1.0 - x : 0.0;
        }

        private static double HammingWeight(double x)
        {
            x = Math.Abs(x);
            if (x == 0.0) return 1.0;
            if (x >= 1.0) return 0.0;
            x *= Math.PI;
            return Math.Sin(x) / x * ((double)0.54f + (double)0.46f * Math.Cos(x)); // Pillow's constants are C floats
        }

        private static double BicubicWeight(double x)
        {
            const double a = -0.5; // Keys' cubic convolution
            x = Math.Abs(x);
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }

        private static double Sinc(double x)
        {
            if (x == 0.0) return 1.0;
            x *= Math.PI;
            return Math.Sin(x) / x;
        }

        private static double LanczosWeight(double x) => -3.0 <= x && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;
    }

    /// <summary>For each output position: the first input index, how many inputs it reads, and their
    /// fixed-point weights (<see cref="Taps"/> slots each, the unused ones zero).</summary>
    private sealed record Coefficients(int Taps, int[] First, int[] Count, int[] Weights);

    /// <summary>Pillow's <c>precompute_coeffs</c> (whole-image box) and <c>normalize_coeffs_8bpc</c>, for the
    /// <paramref name="length"/> output positions from <paramref name="start"/> on.</summary>
    private static Coefficients Precompute(int inSize, int outSize, int start, int length, Kernel kernel)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0); // shrinking stretches the filter: antialiasing
        double support = kernel.Support * filterScale;
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var (first, count, weights) = (new int[length], new int[length], new int[length * taps]);
        var k = new double[taps];
        for (int xx = 0; xx < length; xx++)
        {
            double center = (start + xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.Max(0, (int)(center - support + 0.5));
            int xmax = Math.Min(inSize, (int)(center + support + 0.5)) - xmin;
            double sum = 0.0;
            for (int x = 0; x < xmax; x++)
            {
                k[x] = kernel.Weight((x + xmin - center + 0.5) * ss);
                sum += k[x];
            }
            for (int x = 0; x < xmax; x++)
            {
                double w = sum != 0.0 ? k[x] / sum : k[x];
                weights[xx * taps + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            (first[xx], count[xx]) = (xmin, xmax);
        }
        return new Coefficients(taps, first, count, weights);
    }

    /// <summary>Pillow's <c>clip8</c>: drop the fraction (the sums start at one half, so this rounds) and clamp.</summary>
    private static int Clip8(int sum) => Math.Clamp(sum >> PrecisionBits, 0, 255);

    private const int Half = 1 << (PrecisionBits - 1);

    // ---------------- The separable convolution ----------------

    // The sums are Pillow's to the bit: integer products and sums, whatever their order (no partial sum can
    // overflow, as none can in Pillow's). Only the order is vectorized: a source row is widened once to ints,
    // four per pixel (R, G, B, 0), so that a vector holds whole pixels and each output pixel's sums are
    // vector multiply-adds of pixels by their weight (repeated four times), its lanes the channels.

    private static void Convolve(Image<Rgb24> source, Image<Rgb24> target, int width, int height, Rectangle window, Kernel kernel)
    {
        var (inW, inH, outW, outH) = (source.Width, source.Height, window.Width, window.Height);
        var horizontal = inW != width ? Precompute(inW, width, window.Left, outW, kernel) : null;
        var vertical = Precompute(inH, height, window.Top, outH, kernel);
        // Rows of the source the vertical pass reads (all of them unless the first or last rows weigh nothing).
        int firstRow = vertical.First[0], endRow = vertical.First[outH - 1] + vertical.Count[outH - 1];

        // Pass 1: those rows, resampled horizontally (or copied), into a band of 8-bit values (held as ints) outW wide.
        int stride = outW * 3;
        int[] band = ArrayPool<int>.Shared.Rent(stride * (endRow - firstRow));
        int[] wide = ArrayPool<int>.Shared.Rent(inW * 4);
        try
        {
            var perChannel = horizontal is null ? null : PerChannel(horizontal);
            source.ProcessPixelRows(rows =>
            {
                for (int y = firstRow; y < endRow; y++)
                {
                    var input = MemoryMarshal.AsBytes(rows.GetRowSpan(y));
                    var output = band.AsSpan((y - firstRow) * stride, stride);
                    if (horizontal is null)
                        for (int i = 0; i < stride; i++) output[i] = input[window.Left * 3 + i];
                    else
                    {
                        WidenRgbx(input, wide);
                        ResampleRow(wide, output, horizontal, perChannel!);
                    }
                }
            });

            // Pass 2: vertically, band -> target (or copied when the height does not change).
            target.ProcessPixelRows(rows =>
            {
                var sums = new int[stride];
                for (int yy = 0; yy < outH; yy++)
                {
                    var output = MemoryMarshal.AsBytes(rows.GetRowSpan(yy));
                    if (inH == height)
                    {
                        var line = band.AsSpan((window.Top + yy - firstRow) * stride, stride);
                        for (int i = 0; i < stride; i++) output[i] = (byte)line[i];
                        continue;
                    }
                    Array.Fill(sums, Half);
                    int offset = yy * vertical.Taps;
                    for (int y = 0; y < vertical.Count[yy]; y++)
                        AddScaled(sums, band.AsSpan((vertical.First[yy] + y - firstRow) * stride, stride), vertical.Weights[offset + y]);
                    ToBytes(sums, output);
                }
            });
        }
        finally
        {
            ArrayPool<int>.Shared.Return(band);
            ArrayPool<int>.Shared.Return(wide);
        }
    }

    /// <summary>Each output's weights, each repeated four times (R, G, B, unused), <see cref="Coefficients.Taps"/> x 4 slots apart.</summary>
    private static int[] PerChannel(Coefficients c)
    {
        var repeated = new int[c.Weights.Length * 4];
        for (int i = 0; i < c.Weights.Length; i++) repeated.AsSpan(4 * i, 4).Fill(c.Weights[i]);
        return repeated;
    }

    /// <summary>RGB bytes -> ints R, G, B, 0 per pixel.</summary>
    private static void WidenRgbx(ReadOnlySpan<byte> rgb, Span<int> rgbx)
    {
        int pixels = rgb.Length / 3, i = 0;
        if (Vector128.IsHardwareAccelerated && rgbx.Length >= 4 * pixels)
        {
            // 16 bytes hold 4 whole pixels (and a third of the next): spread them to R, G, B, 0 and widen.
            // Reads 16 bytes from pixel i, so it stops while 6 pixels are left; writes the 16 ints of pixels i .. i + 3.
            var spread = Vector128.Create((byte)0, 1, 2, 255, 3, 4, 5, 255, 6, 7, 8, 255, 9, 10, 11, 255); // 255: zero
            ref byte from = ref MemoryMarshal.GetReference(rgb);
            ref int to = ref MemoryMarshal.GetReference(rgbx);
            for (; i <= pixels - 6; i += 4)
            {
                var bytes = Vector128.LoadUnsafe(ref from, (nuint)(3 * i));
                bytes = Ssse3.IsSupported ? Ssse3.Shuffle(bytes, spread) : Vector128.Shuffle(bytes, spread);
                var (low, high) = Vector128.Widen(bytes);
                var (p0, p1) = Vector128.Widen(low);
                var (p2, p3) = Vector128.Widen(high);
                p0.AsInt32().StoreUnsafe(ref to, (nuint)(4 * i));
                p1.AsInt32().StoreUnsafe(ref to, (nuint)(4 * i + 4));
                p2.AsInt32().StoreUnsafe(ref to, (nuint)(4 * i + 8));
                p3.AsInt32().StoreUnsafe(ref to, (nuint)(4 * i + 12));
            }
        }
        for (; i < pixels; i++) (rgbx[4 * i], rgbx[4 * i + 1], rgbx[4 * i + 2], rgbx[4 * i + 3]) = (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], 0);
    }

    /// <summary>sums += values * weight.</summary>
    private static void AddScaled(Span<int> sums, ReadOnlySpan<int> values, int weight)
    {
        int i = 0, n = Vector<int>.Count;
        if (Vector.IsHardwareAccelerated && values.Length >= sums.Length)
        {
            ref int s = ref MemoryMarshal.GetReference(sums), v = ref MemoryMarshal.GetReference(values);
            var w = new Vector<int>(weight);
            for (; i <= sums.Length - n; i += n)
                (Vector.LoadUnsafe(ref s, (nuint)i) + Vector.LoadUnsafe(ref v, (nuint)i) * w).StoreUnsafe(ref s, (nuint)i);
        }
        for (; i < sums.Length; i++) sums[i] += values[i] * weight;
    }

    /// <summary>Clip8 of every sum, as bytes.</summary>
    private static void ToBytes(ReadOnlySpan<int> sums, Span<byte> bytes)
    {
        int i = 0, n = Vector<int>.Count;
        if (Vector.IsHardwareAccelerated && bytes.Length >= sums.Length)
        {
            ref int s = ref MemoryMarshal.GetReference(sums);
            for (; i <= sums.Length - 4 * n; i += 4 * n)
                Vector.Narrow(Vector.Narrow(Clipped(ref s, i), Clipped(ref s, i + n)), Vector.Narrow(Clipped(ref s, i + 2 * n), Clipped(ref s, i + 3 * n)))
                    .CopyTo(bytes[i..]);
        }
        for (; i < sums.Length; i++) bytes[i] = (byte)Clip8(sums[i]);
    }

    private static Vector<uint> Clipped(ref int sums, int at) =>
        Vector.AsVectorUInt32(Vector.Min(Vector.Max(Vector.ShiftRightArithmetic(Vector.LoadUnsafe(ref sums, (nuint)at), PrecisionBits), Vector<int>.Zero), new Vector<int>(255)));

    /// <summary>One row of R, G, B, 0 ints convolved horizontally into interleaved RGB (Pillow's <c>ImagingResampleHorizontal_8bpc</c>).</summary>
    private static void ResampleRow(ReadOnlySpan<int> input, Span<int> output, Coefficients c, int[] perChannel)
    {
        int n = Vector<int>.Count; // a multiple of 4: whole pixels per vector
        for (int xx = 0, o = 0; o < output.Length; xx++, o += 3)
        {
            int length = c.Count[xx] * 4;
            var weights = perChannel.AsSpan(xx * c.Taps * 4, length);
            var pixels = input.Slice(c.First[xx] * 4, length);
            int r = Half, g = Half, b = Half, e = 0;
            if (Vector.IsHardwareAccelerated && length >= n)
            {
                // pixels and weights were sliced (and so bounds-checked) to length: the loads stay inside
                ref int p = ref MemoryMarshal.GetReference(pixels), w = ref MemoryMarshal.GetReference(weights);
                var sum = Vector<int>.Zero;
                for (; e <= length - n; e += n) sum += Vector.LoadUnsafe(ref p, (nuint)e) * Vector.LoadUnsafe(ref w, (nuint)e);
                for (int j = 0; j < n; j += 4)
                {
                    r += sum[j];
                    g += sum[j + 1];
                    b += sum[j + 2];
                }
            }
            for (; e < length; e += 4)
            {
                r += pixels[e] * weights[e];
                g += pixels[e + 1] * weights[e];
                b += pixels[e + 2] * weights[e];
            }
            (output[o], output[o + 1], output[o + 2]) = (Clip8(r), Clip8(g), Clip8(b));
        }
    }

    // ---------------- Nearest (Geometry.c's ImagingScaleAffine) ----------------

    /// <summary>Source pixel floor((i + 0.5) * in / out), accumulated in double as Pillow does.</summary>
    private static void Nearest(Image<Rgb24> source, Image<Rgb24> target, int width, int height, Rectangle window)
    {
        int[] columns = NearestIndices(source.Width, width, window.Left, window.Width);
        int[] lines = NearestIndices(source.Height, height, window.Top, window.Height);
        source.ProcessPixelRows(target, (input, output) =>
        {
            for (int y = 0; y < output.Height; y++)
            {
                var from = input.GetRowSpan(lines[y]);
                var to = output.GetRowSpan(y);
                for (int x = 0; x < to.Length; x++) to[x] = from[columns[x]];
            }
        });
    }

    /// <summary>The source index of output positions start .. start + length - 1.</summary>
    private static int[] NearestIndices(int inSize, int outSize, int start, int length)
    {
        double step = (double)inSize / outSize, position = step * 0.5;
        var indices = new int[length];
        for (int i = 0; i < start + length; i++, position += step)
            if (i >= start) indices[i - start] = Math.Clamp((int)position, 0, inSize - 1); // within bounds for a whole-image box
        return indices;
    }
}
