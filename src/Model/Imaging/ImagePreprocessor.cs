using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using TorchSharp;

namespace CaptionService.Model.Imaging;

/// <summary>
/// Encoded image -> checked header -> decoded first frame, EXIF-oriented, RGB -> the config's
/// preprocessing (<see cref="ImageTransform"/>: resize, crop, rescale, normalize to S x S float CHW)
/// -> NCHW batch tensor. Thread-safe: one instance can serve concurrent requests.
/// </summary>
public sealed class ImagePreprocessor
{
    private readonly Configuration _imageSharp;

    public ImagePreprocessor(ModelConfig config, ImageLimits? limits = null)
    {
        Transform = new ImageTransform(config); // checks size, mean, std and the preprocessing steps
        ImageSize = config.ImageSize;
        Limits = (limits ?? ImageLimits.Default).EnsureValid();
        _imageSharp = CreateConfiguration(Limits);
    }

    /// <summary>Side of the square the network sees.</summary>
    public int ImageSize { get; }

    /// <summary>The config's resize, crop, rescale and normalization.</summary>
    public ImageTransform Transform { get; }

    public ImageLimits Limits { get; }

    /// <summary>
    /// Our own ImageSharp configuration: only the five accepted formats are registered (anything else
    /// is "unknown"), GIF decodes only its first frame, and a single buffer may not exceed what
    /// <see cref="ImageLimits.MaxPixels"/> needs (a second line behind the header check).
    /// ImageSharp 2.1 has no DecoderOptions.MaxFrames (that is 3.x); per-decoder options are it.
    /// </summary>
    private static Configuration CreateConfiguration(ImageLimits limits)
    {
        var configuration = new Configuration(
            new JpegConfigurationModule(),
            new PngConfigurationModule(),
            new WebpConfigurationModule(),
            new BmpConfigurationModule(),
            new GifConfigurationModule());
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });

        // 16 bytes per pixel covers the widest buffer a decoder makes (e.g. Rgba64, float planes).
        // No pool: ImageSharp would keep up to an eighth of the machine's memory of freed image
        // buffers for reuse (a burst of large uploads left the service gigabytes larger for minutes).
        // Without it, buffers over 1 MB are their own allocations, returned to the system when freed.
        long limitMb = Math.Max(64, limits.MaxPixels * 16 / (1024 * 1024));
        configuration.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions
        {
            AllocationLimitMegabytes = (int)Math.Min(int.MaxValue, limitMb),
            MaximumPoolSizeMegabytes = 0,
        });
        return configuration;
    }

    // ---------------- Checking ----------------

    /// <summary>
    /// Reads only the header and checks it against <see cref="Limits"/>; nothing is decoded.
    /// Throws <see cref="ImageRejectedException"/> for an empty, oversized, unknown, too-many-pixel
    /// or broken image.
    /// </summary>
    public ImageInfo Identify(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        CheckLength(data.Length);
        return Identify(data.Length, () => Image.DetectFormat(_imageSharp, data), () => Image.DetectFormat(data),
            () => Image.Identify(_imageSharp, data, out _));
    }

    /// <summary>As <see cref="Identify(byte[])"/>, reading only as much of a seekable
    /// <paramref name="stream"/> as the header takes (from its position, which is restored): an
    /// upload buffered on disk is checked without being read into memory. Other streams are read
    /// whole, at most <see cref="ImageLimits.MaxBytes"/>.</summary>
    public ImageInfo Identify(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) return Identify(ReadBounded(stream));
        long start = stream.Position, length = stream.Length - start;
        CheckLength(length);
        T At<T>(Func<T> read)
        {
            stream.Position = start;
            try { return read(); }
            finally { stream.Position = start; }
        }
        return Identify(length, () => At(() => Image.DetectFormat(_imageSharp, stream)), () => At(() => Image.DetectFormat(stream)),
            () => At(() => Image.Identify(_imageSharp, stream, out _)));
    }

    private void CheckLength(long length)
    {
        if (length == 0)
            throw new ImageRejectedException(ImageRejectReason.Empty, "The image is empty (0 bytes).");
        if (length > Limits.MaxBytes)
            throw TooLarge(length);
    }

    private ImageInfo Identify(long length, Func<IImageFormat?> detect, Func<IImageFormat?> detectAny, Func<IImageInfo?> identify)
    {
        IImageFormat? format = detect();
        if (format is null)
        {
            // Name the format when ImageSharp knows it but we do not take it (TIFF, TGA, PBM...).
            var known = detectAny();
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, known is null
                ? "Not a recognised image; send JPEG, PNG, WebP, BMP or GIF."
                : $"{known.Name} images are not supported; send JPEG, PNG, WebP, BMP or GIF.");
        }

        IImageInfo? info = Guard(format.Name, identify);
        if (info is null)
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, $"Could not read the {format.Name} header.");
        if (info.Width < 1 || info.Height < 1)
            throw new ImageRejectedException(ImageRejectReason.Corrupt, $"The {format.Name} image declares an empty size ({info.Width} x {info.Height}).");

        long pixels = (long)info.Width * info.Height;
        if (pixels > Limits.MaxPixels)
            throw new ImageRejectedException(ImageRejectReason.TooManyPixels,
                $"The image is {info.Width} x {info.Height} = {pixels:N0} pixels; at most {Limits.MaxPixels:N0} are accepted.");

        // EXIF orientations 5-8 turn the image by 90 degrees: decoding copies it once more (DecodeCost).
        bool rotated = info.Metadata?.ExifProfile?.GetValue(ExifTag.Orientation)?.Value is >= 5 and <= 8;
        return new ImageInfo(format.Name.ToUpperInvariant(), info.Width, info.Height, length, rotated);
    }

    // ---------------- Decoding ----------------

    /// <summary>
    /// Checks the header (<see cref="Identify(byte[])"/>) and the file's structure end to end
    /// (<see cref="ImageIntegrity"/>: a truncated file is refused, not decoded with grey where its
    /// end was), then decodes the first frame, applies the EXIF orientation and drops any alpha. The
    /// caller owns (disposes) the result.
    /// </summary>
    public Image<Rgb24> Decode(byte[] data)
    {
        var info = Identify(data);
        ImageIntegrity.Check(info.Format, data);
        return Guard(info.Format, () =>
        {
            var image = Image.Load<Rgb24>(_imageSharp, data);
            try
            {
                while (image.Frames.Count > 1) image.Frames.RemoveFrame(image.Frames.Count - 1);
                image.Mutate(x => x.AutoOrient());
                return image;
            }
            catch
            {
                image.Dispose();
                throw;
            }
        });
    }

    /// <summary>Reads at most <see cref="ImageLimits.MaxBytes"/> from <paramref name="stream"/>, then as <see cref="Decode(byte[])"/>.</summary>
    public Image<Rgb24> Decode(Stream stream) => Decode(ReadBounded(stream));

    // ---------------- To numbers ----------------

    /// <summary>
    /// One decoded image (left unchanged) -> <c>float[3 * S * S]</c>, channel-major (CHW), normalized,
    /// through the config's preprocessing (<see cref="Transform"/>); only the root frame is read.
    /// </summary>
    public float[] ToChw(Image<Rgb24> image) => Transform.ToChw(image);

    /// <summary>Encoded bytes -> checked, decoded, normalized CHW floats.</summary>
    public float[] ToChw(byte[] data)
    {
        using var image = Decode(data);
        return ToChw(image);
    }

    /// <summary>Stacks CHW arrays (each <c>3 * S * S</c> long) into a float32 CPU tensor [N, 3, S, S].</summary>
    public torch.Tensor ToBatch(IEnumerable<float[]> chwImages)
    {
        ArgumentNullException.ThrowIfNull(chwImages);
        int per = 3 * ImageSize * ImageSize;
        var list = chwImages.ToList();
        if (list.Count == 0) throw new ArgumentException("A batch needs at least one image.", nameof(chwImages));

        var data = new float[(long)list.Count * per];
        for (int n = 0; n < list.Count; n++)
        {
            if (list[n].Length != per)
                throw new ArgumentException($"Image {n} has {list[n].Length} values; expected 3 x {ImageSize} x {ImageSize} = {per}.", nameof(chwImages));
            Array.Copy(list[n], 0, data, (long)n * per, per);
        }
        return torch.tensor(data, new long[] { list.Count, 3, ImageSize, ImageSize });
    }

    /// <summary>Encoded images -> float32 [N, 3, S, S]; the first refused image throws <see cref="ImageRejectedException"/>.</summary>
    public torch.Tensor Preprocess(IEnumerable<byte[]> encodedImages) => ToBatch(encodedImages.Select(ToChw));

    /// <summary>Decoded (e.g. augmented) images -> float32 [N, 3, S, S]. The images are not modified or disposed.</summary>
    public torch.Tensor Preprocess(IEnumerable<Image<Rgb24>> images) => ToBatch(images.Select(ToChw));

    // ---------------- Helpers ----------------

    private ImageRejectedException TooLarge(long bytes) => new(ImageRejectReason.TooLarge,
        $"The image is {bytes:N0} bytes; at most {Limits.MaxBytes:N0} are accepted.");

    /// <summary>Reads the whole stream, refusing (without reading on) once it passes MaxBytes.</summary>
    private byte[] ReadBounded(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.CanSeek && stream.Length - stream.Position > Limits.MaxBytes)
            throw TooLarge(stream.Length - stream.Position);

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > Limits.MaxBytes) throw TooLarge(buffer.Length + read);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Runs an ImageSharp call and turns whatever a malformed file makes it throw into an
    /// <see cref="ImageRejectedException"/>: decoders can fail with more than their documented
    /// exception types on hostile input, and none of that may escape as a server error.
    /// </summary>
    private static T Guard<T>(string format, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (InvalidMemoryOperationException e)
        {
            throw new ImageRejectedException(ImageRejectReason.TooManyPixels, $"The {format} image needs more memory to decode than allowed.", e);
        }
        catch (UnknownImageFormatException e)
        {
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, $"Not a recognised image: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, $"This kind of {format} image is not supported: {e.Message}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // InvalidImageContentException / ImageFormatException, and also EndOfStream, IndexOutOfRange...
            throw new ImageRejectedException(ImageRejectReason.Corrupt, $"The {format} image is damaged or truncated: {e.Message}", e);
        }
    }
}
