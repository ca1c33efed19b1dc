namespace CaptionService.Model.Imaging;

/// <summary>
/// Bounds checked on every encoded image before it is decoded. Only the first frame of an
/// animated image is ever decoded (GIF) or used (every format); there is no knob for that.
/// </summary>
public sealed record ImageLimits
{
    /// <summary>Most encoded bytes accepted (default 20 MiB).</summary>
    public long MaxBytes { get; init; } = 20L * 1024 * 1024;

    /// <summary>Most pixels (width x height, as the file's header declares them) accepted (default 40 megapixels).</summary>
    public long MaxPixels { get; init; } = 40_000_000;

    public static ImageLimits Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> when a bound is not positive.</summary>
    public ImageLimits EnsureValid()
    {
        if (MaxBytes < 1) throw new ArgumentException($"max_bytes must be positive (got {MaxBytes})");
        if (MaxPixels < 1) throw new ArgumentException($"max_pixels must be positive (got {MaxPixels})");
        return this;
    }
}

/// <summary>What <see cref="ImagePreprocessor.Identify(byte[])"/> read from an image's header.</summary>
/// <param name="Format">ImageSharp's format name: "JPEG", "PNG", "WEBP", "BMP" or "GIF".</param>
/// <param name="Width">Stored width in pixels, before any EXIF rotation.</param>
/// <param name="Height">Stored height in pixels, before any EXIF rotation.</param>
/// <param name="Bytes">Encoded size.</param>
/// <param name="Rotated">Its EXIF orientation turns it by 90 degrees (decoding then copies it once more).</param>
public sealed record ImageInfo(string Format, int Width, int Height, long Bytes, bool Rotated = false);
