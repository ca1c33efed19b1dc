using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Model.Imaging;

/// <summary>
/// A config's <see cref="PreprocessingConfig"/> (its <c>preprocessing</c> section, or the legacy steps when it
/// has none) applied to a decoded RGB image: resize, center crop, rescale, normalize -> CHW floats of
/// <c>image_size x image_size</c>. Thread-safe; the input image is never modified.
/// </summary>
public sealed class ImageTransform
{
    private readonly float[][] _lut; // [channel][8-bit value] -> network input

    public ImageTransform(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.ImageSize < 1) throw new ArgumentException($"image_size must be positive (got {config.ImageSize})");
        if (config.ImageMean.Length != 3 || config.ImageStd.Length != 3 || config.ImageStd.Any(s => !(s > 0)))
            throw new ArgumentException("image_mean and image_std must have 3 values each, std positive");
        Steps = config.EffectivePreprocessing;
        var errors = Steps.Validate(config.ImageSize).ToList();
        if (errors.Count > 0) throw new ArgumentException("Invalid preprocessing: " + string.Join("; ", errors));
        ImageSize = config.ImageSize;

        // Only 256 inputs per channel: tabulate x = (float(v * rescale) - mean) / std, in float32 as
        // transformers does it (rescale in float64, cast, then normalize in float32).
        _lut = new float[3][];
        for (int c = 0; c < 3; c++)
        {
            _lut[c] = new float[256];
            for (int v = 0; v < 256; v++)
                _lut[c][v] = ((float)(v * Steps.RescaleFactor) - config.ImageMean[c]) / config.ImageStd[c];
        }
    }

    public PreprocessingConfig Steps { get; }

    /// <summary>Side of the square the network sees.</summary>
    public int ImageSize { get; }

    /// <summary>The 8-bit image the network sees (resized and cropped, before rescaling), as a new image.</summary>
    public Image<Rgb24> ToPixels(Image<Rgb24> image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var sized = Resize(image);
        return ReferenceEquals(sized, image) ? image.Clone() : sized;
    }

    /// <summary>One decoded image -> <c>float[3 * S * S]</c>, channel-major (CHW), normalized.</summary>
    public float[] ToChw(Image<Rgb24> image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var sized = Resize(image);
        try
        {
            int s = ImageSize, plane = s * s;
            var chw = new float[3 * plane];
            float[] r = _lut[0], g = _lut[1], b = _lut[2];
            sized.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < s; y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (int x = 0; x < s; x++)
                    {
                        int i = y * s + x; // offset inside one channel plane
                        chw[i] = r[row[x].R];
                        chw[plane + i] = g[row[x].G];
                        chw[2 * plane + i] = b[row[x].B];
                    }
                }
            });
            return chw;
        }
        finally
        {
            if (!ReferenceEquals(sized, image)) sized.Dispose();
        }
    }

    /// <summary>
    /// Resized and center-cropped to S x S (or <paramref name="image"/> itself when it already is S x S and
    /// nothing would change it). Only the crop window of the resized image is computed: a thin image that a
    /// shortest-edge resize would make enormous costs no more than any other.
    /// </summary>
    private Image<Rgb24> Resize(Image<Rgb24> image)
    {
        var (w, h) = Steps.Resize?.For(image.Width, image.Height) ?? (ImageSize, ImageSize);
        var (top, left) = Steps.CenterCrop?.Offsets(w, h) ?? (0, 0);
        if (top < 0 || left < 0 || top + ImageSize > h || left + ImageSize > w) // Validate rules this out
            throw new InvalidOperationException($"A {w} x {h} image cannot be cropped to {ImageSize} x {ImageSize}.");
        if (image.Width == w && image.Height == h && w == ImageSize && h == ImageSize) return image;
        if (Steps.Resample == ResampleFilter.ImageSharpBicubic) // legacy: no crop (Validate)
            return image.Clone(x => x.Resize(w, h, KnownResamplers.Bicubic));
        return Resampler.Resize(image, w, h, Steps.Resample, new Rectangle(left, top, ImageSize, ImageSize));
    }
}
