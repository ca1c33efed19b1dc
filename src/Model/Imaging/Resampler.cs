using System.Buffers;
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
/// is 8-bit too. A pass whose size does not change is skipped. ImageSharp's resamplers do the arithmetic
/// in float with other kernel placements, which differs from Pillow by several grey levels at edges.
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
    private static byte Clip8(int sum) => (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);

    // ---------------- The separable convolution ----------------

    private static void Convolve(Image<Rgb24> source, Image<Rgb24> target, int width, int height, Rectangle window, Kernel kernel)
    {
        var (inW, inH, outW, outH) = (source.Width, source.Height, window.Width, window.Height);
        var horizontal = inW != width ? Precompute(inW, width, window.Left, outW, kernel) : null;
        var vertical = Precompute(inH, height, window.Top, outH, kernel);
        // Rows of the source the vertical pass reads (all of them unless the first or last rows weigh nothing).
        int firstRow = vertical.First[0], endRow = vertical.First[outH - 1] + vertical.Count[outH - 1];

        // Pass 1: those rows, resampled horizontally (or copied), into an 8-bit buffer outW wide.
        int stride = outW * 3;
        byte[] band = ArrayPool<byte>.Shared.Rent(stride * (endRow - firstRow));
        try
        {
            source.ProcessPixelRows(rows =>
            {
                for (int y = firstRow; y < endRow; y++)
                {
                    var input = MemoryMarshal.AsBytes(rows.GetRowSpan(y));
                    var output = band.AsSpan((y - firstRow) * stride, stride);
                    if (horizontal is null) input.Slice(window.Left * 3, stride).CopyTo(output);
                    else ResampleRow(input, output, horizontal);
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
                        band.AsSpan((window.Top + yy - firstRow) * stride, stride).CopyTo(output);
                        continue;
                    }
                    Array.Fill(sums, 1 << (PrecisionBits - 1));
                    int offset = yy * vertical.Taps;
                    for (int y = 0; y < vertical.Count[yy]; y++)
                    {
                        int w = vertical.Weights[offset + y];
                        var input = band.AsSpan((vertical.First[yy] + y - firstRow) * stride, stride);
                        for (int i = 0; i < stride; i++) sums[i] += input[i] * w;
                    }
                    for (int i = 0; i < stride; i++) output[i] = Clip8(sums[i]);
                }
            });
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(band);
        }
    }

    /// <summary>One row of RGB bytes convolved horizontally (Pillow's <c>ImagingResampleHorizontal_8bpc</c>).</summary>
    private static void ResampleRow(ReadOnlySpan<byte> input, Span<byte> output, Coefficients c)
    {
        for (int xx = 0, o = 0; o < output.Length; xx++, o += 3)
        {
            int r = 1 << (PrecisionBits - 1), g = r, b = r;
            var weights = c.Weights.AsSpan(xx * c.Taps, c.Count[xx]);
            var pixels = input.Slice(c.First[xx] * 3, weights.Length * 3);
            for (int x = 0, p = 0; x < weights.Length; x++, p += 3)
            {
                int w = weights[x];
                r += pixels[p] * w;
                g += pixels[p + 1] * w;
                b += pixels[p + 2] * w;
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
