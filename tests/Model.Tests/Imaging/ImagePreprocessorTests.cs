using System.Buffers.Binary;
using System.Text;
using CaptionService.Model.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace CaptionService.Model.Tests.Imaging;

public class ImagePreprocessorTests
{
    private static readonly Rgb24 Red = new(255, 0, 0);
    private static readonly Rgb24 Green = new(0, 255, 0);
    private static readonly Rgb24 Blue = new(0, 0, 255);
    private static readonly Rgb24 White = new(255, 255, 255);
    private static readonly Rgb24 Black = new(0, 0, 0);

    private static ImagePreprocessor Preprocessor(int size, ImageLimits? limits = null) =>
        new(Presets.Tiny with { ImageSize = size }, limits);

    private static byte[] Encode(Image image, IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    /// <summary>A width x height image, every pixel from <paramref name="colour"/>(x, y).</summary>
    private static Image<Rgb24> Make(int width, int height, Func<int, int, Rgb24> colour)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = colour(x, y);
        return image;
    }

    private static byte[] Png(int width, int height, Func<int, int, Rgb24> colour)
    {
        using var image = Make(width, height, colour);
        return Encode(image, new PngEncoder());
    }

    private static ImageRejectReason Rejected(Action action) =>
        Assert.Throws<ImageRejectedException>(action).Reason;

    // ---------------- Values ----------------

    [Fact]
    public void ToChw_ExactColours_NormalizeToMinusOneAndOne()
    {
        // Row 0: red, green; row 1: blue, white. Same size as the config: no resampling.
        var rgbw = new[,] { { Red, Green }, { Blue, White } };
        var chw = Preprocessor(2).ToChw(Png(2, 2, (x, y) => rgbw[y, x]));

        // mean = std = 0.5: 255 -> (1 - 0.5) / 0.5 = 1, 0 -> (0 - 0.5) / 0.5 = -1. Planes R, G, B; pixels row-major.
        float[] expected =
        [
            1, -1, -1, 1,   // R: red, green, blue, white
            -1, 1, -1, 1,   // G
            -1, -1, 1, 1,   // B
        ];
        Assert.Equal(expected, chw);
    }

    [Fact]
    public void ToChw_UsesTheConfigsMeanAndStd()
    {
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var preprocessor = new ImagePreprocessor(Presets.Tiny with { ImageSize = 1, ImageMean = mean, ImageStd = std });
        using var image = Make(1, 1, (_, _) => new Rgb24(51, 128, 204));

        var chw = preprocessor.ToChw(image);

        Assert.Equal((51 / 255f - mean[0]) / std[0], chw[0], 6);
        Assert.Equal((128 / 255f - mean[1]) / std[1], chw[1], 6);
        Assert.Equal((204 / 255f - mean[2]) / std[2], chw[2], 6);
    }

    [Fact]
    public void ToChw_ResizesToTheConfigSize_AndLeavesTheInputAlone()
    {
        using var image = Make(10, 6, (_, _) => new Rgb24(100, 150, 200));

        var chw = Preprocessor(4).ToChw(image);

        Assert.Equal(3 * 4 * 4, chw.Length);
        Assert.Equal((10, 6), (image.Width, image.Height));
        // A flat colour stays flat through bicubic resampling (to within one 8-bit step).
        Assert.All(chw[..16], v => Assert.Equal(100 / 127.5f - 1, v, 2));
        Assert.All(chw[16..32], v => Assert.Equal(150 / 127.5f - 1, v, 2));
        Assert.All(chw[32..], v => Assert.Equal(200 / 127.5f - 1, v, 2));
    }

    [Fact]
    public void Preprocess_StacksIntoFloat32Nchw()
    {
        var preprocessor = Preprocessor(4);
        var encoded = new[] { Png(7, 3, (_, _) => Red), Png(4, 4, (_, _) => Blue) };

        using var batch = preprocessor.Preprocess(encoded);

        Assert.Equal([2L, 3, 4, 4], batch.shape);
        Assert.Equal(torch.ScalarType.Float32, batch.dtype);
        Assert.Equal(1f, batch[1, 2, 3, 3].item<float>());
        Assert.Equal(-1f, batch[1, 0, 0, 0].item<float>());

        using var red = Make(5, 5, (_, _) => Red);
        using var fromImages = preprocessor.Preprocess([red]);
        Assert.Equal([1L, 3, 4, 4], fromImages.shape);
    }

    // ---------------- Decoding ----------------

    [Fact]
    public void Decode_AppliesExifOrientation()
    {
        // Stored 4 wide x 2 high, red in the top-left corner. Orientation 6: shown rotated 90 degrees
        // clockwise, so the picture is 2 wide x 4 high and the red corner is now top-right.
        using var stored = Make(4, 2, (x, y) => x == 0 && y == 0 ? Red : Black);
        stored.Metadata.ExifProfile = new ExifProfile();
        stored.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        var png = Encode(stored, new PngEncoder());

        var preprocessor = Preprocessor(4);
        Assert.Equal(new ImageInfo("PNG", 4, 2, png.Length, Rotated: true), preprocessor.Identify(png));

        using var shown = preprocessor.Decode(png);
        Assert.Equal((2, 4), (shown.Width, shown.Height));
        Assert.Equal(Red, shown[1, 0]);
        Assert.Equal(Black, shown[0, 0]);
    }

    [Fact]
    public void Decode_TwoFrameGif_TakesTheFirstFrame()
    {
        using var gif = Make(4, 4, (_, _) => Red);
        using (var second = Make(4, 4, (_, _) => Blue))
            gif.Frames.AddFrame(second.Frames.RootFrame);
        Assert.Equal(2, gif.Frames.Count);
        var bytes = Encode(gif, new GifEncoder());

        var preprocessor = Preprocessor(4);
        using (var decoded = preprocessor.Decode(bytes))
        {
            Assert.Equal(1, decoded.Frames.Count);
            Assert.Equal(Red, decoded[2, 2]);
        }
        Assert.Equal([1f, -1f, -1f], preprocessor.ToChw(bytes).Where((_, i) => i % 16 == 0));
    }

    public static TheoryData<string, IImageEncoder> Encoders => new()
    {
        { "PNG", new PngEncoder() },
        { "JPEG", new JpegEncoder() },
        { "WEBP", new WebpEncoder() },
        { "BMP", new BmpEncoder() },
        { "GIF", new GifEncoder() },
    };

    [Theory]
    [MemberData(nameof(Encoders))]
    public void EveryAcceptedFormat_IdentifiesAndDecodes(string format, IImageEncoder encoder)
    {
        using var image = Make(8, 6, (x, y) => (x + y) % 2 == 0 ? White : Black);
        var bytes = Encode(image, encoder);
        var preprocessor = Preprocessor(4);

        Assert.Equal(new ImageInfo(format, 8, 6, bytes.Length), preprocessor.Identify(bytes));
        Assert.Equal(new ImageInfo(format, 8, 6, bytes.Length), preprocessor.Identify(new MemoryStream(bytes)));
        using var decoded = preprocessor.Decode(new MemoryStream(bytes));
        Assert.Equal((8, 6), (decoded.Width, decoded.Height));
    }

    // ---------------- Refusals ----------------

    [Fact]
    public void Identify_RefusesAHugeHeader_WithoutDecoding()
    {
        // Only a PNG signature, an IHDR claiming 100000 x 100000 and IEND: there is no pixel data at
        // all, so refusing it for its size (not as corrupt) shows only the header was read.
        var png = PngHeaderOnly(100_000, 100_000);
        var preprocessor = Preprocessor(4);

        var e = Assert.Throws<ImageRejectedException>(() => preprocessor.Identify(png));
        Assert.Equal(ImageRejectReason.TooManyPixels, e.Reason);
        Assert.Contains("100000 x 100000", e.Message);
        Assert.Contains("40,000,000", e.Message);
        Assert.Equal(ImageRejectReason.TooManyPixels, Rejected(() => preprocessor.Decode(png)));
    }

    [Fact]
    public void Identify_RefusesAnImageOverATinyPixelBound()
    {
        var png = Png(100, 60, (_, _) => Green);
        var preprocessor = Preprocessor(4, new ImageLimits { MaxPixels = 5_000 });

        var e = Assert.Throws<ImageRejectedException>(() => preprocessor.Identify(png));
        Assert.Equal(ImageRejectReason.TooManyPixels, e.Reason);
        Assert.Contains("100 x 60", e.Message);
        Assert.Contains("5,000", e.Message);
        Assert.Equal(ImageRejectReason.TooManyPixels, Rejected(() => preprocessor.ToChw(png)));
    }

    [Fact]
    public void TooManyBytes_IsTooLarge_FromBytesAndStreams()
    {
        var png = Png(16, 16, (x, y) => new Rgb24((byte)(x * 16), (byte)(y * 16), 0));
        var preprocessor = Preprocessor(4, new ImageLimits { MaxBytes = png.Length - 1 });

        Assert.Equal(ImageRejectReason.TooLarge, Rejected(() => preprocessor.Identify(png)));
        Assert.Equal(ImageRejectReason.TooLarge, Rejected(() => preprocessor.Decode(new MemoryStream(png))));
        Assert.Equal(ImageRejectReason.TooLarge, Rejected(() => preprocessor.Decode(new NonSeekableStream(png))));
        Preprocessor(4, new ImageLimits { MaxBytes = png.Length }).Decode(new NonSeekableStream(png)).Dispose();
    }

    [Fact]
    public void TruncatedPng_IsCorrupt()
    {
        var random = new Random(1);
        var png = Png(64, 64, (_, _) => new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        var half = png[..(png.Length / 2)];

        Assert.Equal(ImageRejectReason.Corrupt, Rejected(() => Preprocessor(4).ToChw(half)));
    }

    [Fact]
    public void RandomBytesAfterAJpegMarker_AreCorrupt()
    {
        var bytes = new byte[2048];
        new Random(2).NextBytes(bytes);
        bytes[0] = 0xFF;
        bytes[1] = 0xD8;
        bytes[2] = 0xFF;

        Assert.Equal(ImageRejectReason.Corrupt, Rejected(() => Preprocessor(4).ToChw(bytes)));
    }

    [Fact]
    public void RandomBytes_AreUnsupported()
    {
        var bytes = new byte[2048];
        new Random(3).NextBytes(bytes);
        bytes[0] = 0x00; // no image signature starts with a zero byte among ours

        Assert.Equal(ImageRejectReason.UnsupportedFormat, Rejected(() => Preprocessor(4).Identify(bytes)));
        Assert.Equal(ImageRejectReason.UnsupportedFormat, Rejected(() => Preprocessor(4).Decode(bytes)));
    }

    [Fact]
    public void AFormatImageSharpKnowsButWeDoNotTake_IsUnsupported_AndNamed()
    {
        var tiff = new byte[] { (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0 };

        var e = Assert.Throws<ImageRejectedException>(() => Preprocessor(4).Identify(tiff));
        Assert.Equal(ImageRejectReason.UnsupportedFormat, e.Reason);
        Assert.Contains("TIFF", e.Message);
    }

    [Fact]
    public void Empty_IsEmpty()
    {
        Assert.Equal(ImageRejectReason.Empty, Rejected(() => Preprocessor(4).Identify([])));
        Assert.Equal(ImageRejectReason.Empty, Rejected(() => Preprocessor(4).Decode(new MemoryStream())));
    }

    // ---------------- Helpers ----------------

    /// <summary>PNG signature + IHDR (8-bit RGB) + IEND, with correct CRCs and no image data.</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB; compression, filter, interlace stay 0

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        png.Write(word);
    }

    /// <summary>The CRC-32 PNG uses (IEEE, reflected, polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => base.Position; set => throw new NotSupportedException(); }
    }
}
