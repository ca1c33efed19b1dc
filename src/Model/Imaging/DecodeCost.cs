namespace CaptionService.Model.Imaging;

/// <summary>
/// How much memory decoding an image takes, from its header alone: what a service reserves before
/// it decodes (the decoded pixels do not exist yet when the decision is made). Per pixel, by format,
/// measured on ImageSharp 2.1.13 as the growth of the resident set while one large image is
/// decoded, EXIF-oriented and resized (docs/benchmarks.md), rounded up: PNG, GIF and BMP 3.3-4.0
/// bytes, baseline JPEG 4.1, progressive JPEG 7.1 (the decoder keeps every coefficient), lossy WebP
/// 7.5, lossless WebP 12.7. An EXIF rotation by 90 degrees copies the decoded image (3 bytes per
/// pixel more for the lean decoders).
/// </summary>
public static class DecodeCost
{
    /// <summary>Bytes per pixel for <paramref name="format"/> (ImageSharp's name, upper case).</summary>
    public static int BytesPerPixel(string format, bool rotated = false) => format switch
    {
        "JPEG" => 8,
        "WEBP" => 13,
        _ => rotated ? 8 : 5,
    };

    /// <summary>The most any accepted image takes per pixel (lossless WebP).</summary>
    public const int MaxBytesPerPixel = 13;

    /// <summary>Bytes decoding the image described by <paramref name="info"/> may take at its peak.</summary>
    public static long Bytes(ImageInfo info) => (long)info.Width * info.Height * BytesPerPixel(info.Format, info.Rotated);
}
