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

namespace CaptionService.Model.Tests.Imaging;

/// <summary>A truncated or structurally broken image of every accepted format is refused as corrupt,
/// never decoded with grey where its end was (ImageSharp 2.1 does that for JPEG, GIF and BMP).</summary>
public class ImageIntegrityTests
{
    private static readonly ImagePreprocessor Preprocessor = new(Presets.Tiny with { ImageSize = 8 });

    /// <summary>A 64 x 48 picture with detail everywhere (a noise-free image compresses to almost nothing).</summary>
    private static byte[] Encode(IImageEncoder encoder)
    {
        var random = new Random(5);
        using var image = new Image<Rgb24>(64, 48);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                image[x, y] = new Rgb24((byte)(x * 4), (byte)random.Next(256), (byte)(y * 5));
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    public static TheoryData<string, string> Formats => new()
    {
        { "JPEG baseline", "JPEG" },
        { "JPEG progressive", "JPEG" },
        { "PNG", "PNG" },
        { "GIF", "GIF" },
        { "WebP lossy", "WEBP" },
        { "WebP lossless", "WEBP" },
        { "BMP", "BMP" },
    };

    public static byte[] Sample(string kind) => kind switch
    {
        "JPEG baseline" => Encode(new JpegEncoder { Quality = 90 }),
        "JPEG progressive" => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "data", "progressive.jpg")),
        "PNG" => Encode(new PngEncoder()),
        "GIF" => Encode(new GifEncoder()),
        "WebP lossy" => Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossy }),
        "WebP lossless" => Encode(new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }),
        "BMP" => Encode(new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 }),
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_whole_file_decodes(string kind, string format)
    {
        var bytes = Sample(kind);
        Assert.Equal(format, Preprocessor.Identify(bytes).Format);
        ImageIntegrity.Check(format, bytes);
        using var image = Preprocessor.Decode(bytes);
        Assert.Equal(48, image.Height);
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_file_cut_anywhere_is_refused_and_never_decoded(string kind, string format)
    {
        var bytes = Sample(kind);
        // Every cut in the last quarter, and a spread of cuts before it (the header must survive for
        // the format to be recognised; earlier cuts are refused as unreadable).
        var cuts = Enumerable.Range(1, 40).Select(i => bytes.Length * i / 41)
            .Concat(Enumerable.Range(1, Math.Min(bytes.Length / 4, 400)).Select(i => bytes.Length - i))
            .Distinct();
        foreach (int cut in cuts)
        {
            if (format == "GIF" && cut == bytes.Length - 1) continue;   // only the trailer byte missing: every image is whole (below)
            var e = Assert.Throws<ImageRejectedException>(() => Preprocessor.Decode(bytes[..cut]).Dispose());
            Assert.True(e.Reason is ImageRejectReason.Corrupt or ImageRejectReason.UnsupportedFormat,
                $"{kind} cut to {cut} of {bytes.Length} bytes: {e.Reason} {e.Message}");
        }
        // Cut after the header: named as damaged, with the format.
        var late = Assert.Throws<ImageRejectedException>(() => Preprocessor.Decode(bytes[..(bytes.Length * 3 / 4)]));
        Assert.Equal(ImageRejectReason.Corrupt, late.Reason);
        Assert.Contains(format, late.Message);
        if (format == "GIF") Preprocessor.Decode(bytes[..^1]).Dispose();
    }

    [Fact]
    public void Trailing_bytes_after_the_end_are_allowed()
    {
        foreach (var (kind, _) in Formats.Select(r => ((string)r[0], (string)r[1])))
        {
            var bytes = Sample(kind).Concat(new byte[] { 0, 1, 2, 3, 0xFF, 0xD9 }).ToArray();
            Preprocessor.Decode(bytes).Dispose();
        }
    }

    public static TheoryData<string, string, Func<byte[], byte[]>, string> Broken => new()
    {
        { "JPEG", "JPEG baseline", b => Patch(b, 2, 0xFF, 0xE0, 0xFF, 0xF0), "segment" },                       // APP0 length past the end
        { "JPEG", "JPEG baseline", b => [0xFF, 0xD8, 0xFF, 0xD9], "frame header" },                               // start and end, nothing between
        { "PNG", "PNG", b => Patch(b, 12, (byte)'I', (byte)'H', (byte)'D', (byte)'X'), "IHDR" },                   // first chunk is not IHDR
        { "PNG", "PNG", b => Without(b, "IDAT"), "IDAT" },                                                        // no image data
        { "GIF", "GIF", b => Patch(b, ImageDescriptor(b), 0x99), "starts no block" },                             // not a block introducer
        { "WEBP", "WebP lossy", b => Patch(b, 16, 0xFF, 0xFF, 0xFF, 0x0F), "chunk" },                             // VP8 chunk size past the RIFF
        { "BMP", "BMP", b => Patch(b, 10, 0xFF, 0xFF, 0xFF, 0x0F), "pixel data" },                                // pixel data offset past the end
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Broken_structure_is_refused_as_corrupt_naming_what(string format, string kind, Func<byte[], byte[]> breakIt, string says)
    {
        var bytes = breakIt(Sample(kind));
        var e = Assert.Throws<ImageRejectedException>(() => ImageIntegrity.Check(format, bytes));
        Assert.Equal(ImageRejectReason.Corrupt, e.Reason);
        Assert.Contains(says, e.Message);
        Assert.Contains(format, e.Message);
    }

    [Fact]
    public void Identify_from_a_seekable_stream_reads_the_header_only_and_reports_rotation()
    {
        using var image = new Image<Rgb24>(30, 20);
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        using var encoded = new MemoryStream();
        image.SaveAsJpeg(encoded);
        var bytes = encoded.ToArray();
        var counting = new CountingStream(new MemoryStream(bytes.Concat(new byte[1 << 20]).ToArray()));   // a megabyte of padding after it

        var info = Preprocessor.Identify(counting);

        Assert.Equal(new ImageInfo("JPEG", 30, 20, counting.Length, Rotated: true), info);
        Assert.True(counting.BytesRead < 64 * 1024, $"read {counting.BytesRead} bytes");
        Assert.Equal(0, counting.Position);
        Assert.Equal(30L * 20 * 8, DecodeCost.Bytes(info));
        Assert.Equal(30L * 20 * 8, DecodeCost.Bytes(info with { Format = "PNG" }));
        Assert.Equal(30L * 20 * 5, DecodeCost.Bytes(info with { Format = "PNG", Rotated = false }));
    }

    private static byte[] Patch(byte[] bytes, int at, params byte[] with)
    {
        var copy = bytes.ToArray();
        with.CopyTo(copy, at);
        return copy;
    }

    /// <summary>The PNG without its chunks of the given type.</summary>
    private static byte[] Without(byte[] png, string type)
    {
        var kept = new List<byte>(png[..8]);
        for (int pos = 8; pos < png.Length;)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            if (System.Text.Encoding.ASCII.GetString(png, pos + 4, 4) != type) kept.AddRange(png[pos..(pos + 12 + length)]);
            pos += 12 + length;
        }
        return [.. kept];
    }

    /// <summary>Where the first block after a GIF's header and colour table starts.</summary>
    private static int ImageDescriptor(byte[] gif) => 13 + ((gif[10] & 0x80) != 0 ? 3 << ((gif[10] & 7) + 1) : 0);

    private sealed class CountingStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
