using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Deploy.Tests;

/// <summary>Small PNGs of the kind the demo checkpoint knows: one coloured shape on a light background.</summary>
internal static class TestImages
{
    public static byte[] Circle(int width, int height, byte r, byte g, byte b) =>
        Png(width, height, (x, y) =>
        {
            double dx = x - width / 2.0, dy = y - height / 2.0, radius = Math.Min(width, height) * 0.3;
            return dx * dx + dy * dy <= radius * radius ? new Rgb24(r, g, b) : new Rgb24(245, 245, 245);
        });

    public static byte[] Square(int width, int height, byte r, byte g, byte b) =>
        Png(width, height, (x, y) =>
        {
            int side = Math.Min(width, height) / 2, left = (width - side) / 2, top = (height - side) / 2;
            return x >= left && x < left + side && y >= top && y < top + side ? new Rgb24(r, g, b) : new Rgb24(245, 245, 245);
        });

    private static byte[] Png(int width, int height, Func<int, int, Rgb24> colour)
    {
        using var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++) row[x] = colour(x, y);
            }
        });
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }
}
