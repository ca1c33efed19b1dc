using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data.Synthetic;

/// <summary>
/// Draws a scene, anti-aliased (each pixel's coverage from 4x4 samples). Each shape fills a box centred on its
/// placement: left/right at x = 1/4 and 3/4 of the side, top/bottom at y = 1/4 and 3/4, the corners at both,
/// center in the middle. Box sides are 0.14, 0.24 and 0.37 of the image side (small, medium, large), each
/// scaled by up to ±5%, so the sizes never overlap even after a ±5% augmentation. A shape is turned by up to
/// ±8 degrees, moved by up to 0.03 of the side (a pair's shapes also up to 0.1 along their common line), and its
/// colour varies by up to ±12 per channel. Shapes never touch and never cross the middle line between a pair.
/// Last, every pixel gets uniform noise of up to ±4 per channel.
/// </summary>
public static class SceneRenderer
{
    public static readonly IReadOnlyList<double> Sides = [0.14, 0.24, 0.37];
    public const double SizeJitter = 0.05, MaxRotationDegrees = 8, PositionJitter = 0.03, PairSlide = 0.1;
    public const int ColourJitter = 12, Noise = 4;
    private const int Samples = 4;

    /// <summary>Renders <paramref name="scene"/>; <paramref name="rng"/> gives the jitter and noise.</summary>
    public static Image<Rgb24> Render(SynthScene scene, int size, ref SplitMix64 rng)
    {
        var pixels = new float[size * size * 3];
        FillBackground(pixels, size, scene.Background);
        bool pair = scene.Shapes.Count == 2;
        foreach (var shape in scene.Shapes)
        {
            var (cx, cy) = Centre(shape.Placement);
            double slide = pair ? rng.Symmetric(PairSlide) : 0;
            cx += rng.Symmetric(PositionJitter) + (shape.Placement is Placement.Top or Placement.Bottom ? slide : 0);
            cy += rng.Symmetric(PositionJitter) + (shape.Placement is Placement.Left or Placement.Right ? slide : 0);
            double half = Sides[(int)shape.Size] * (1 + rng.Symmetric(SizeJitter)) / 2 * size;
            double angle = rng.Symmetric(MaxRotationDegrees) * Math.PI / 180;
            var baseColour = SynthScene.Palette[shape.Colour];
            var colour = new float[3];
            byte[] channels = [baseColour.R, baseColour.G, baseColour.B];
            for (int c = 0; c < 3; c++) colour[c] = (float)Math.Clamp(channels[c] + rng.Symmetric(ColourJitter), 0, 255);
            Fill(pixels, size, shape.Kind, cx * size, cy * size, half, angle, colour);
        }
        var image = new Image<Rgb24>(size, size);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int i = (y * size + x) * 3;
                image[x, y] = new Rgb24(Byte(pixels[i] + rng.Symmetric(Noise)), Byte(pixels[i + 1] + rng.Symmetric(Noise)),
                    Byte(pixels[i + 2] + rng.Symmetric(Noise)));
            }
        return image;
    }

    /// <summary>The box centre of a placement, in units of the image side.</summary>
    public static (double X, double Y) Centre(Placement placement) => placement switch
    {
        Placement.Left => (0.25, 0.5),
        Placement.Right => (0.75, 0.5),
        Placement.Top => (0.5, 0.25),
        Placement.Bottom => (0.5, 0.75),
        Placement.TopLeft => (0.25, 0.25),
        Placement.TopRight => (0.75, 0.25),
        Placement.BottomLeft => (0.25, 0.75),
        Placement.BottomRight => (0.75, 0.75),
        _ => (0.5, 0.5),
    };

    private static byte Byte(double v) => (byte)Math.Clamp(Math.Round(v), 0, 255);

    private static void FillBackground(float[] pixels, int size, SynthBackground background)
    {
        double a = background.AngleDegrees * Math.PI / 180;
        var (ux, uy) = (Math.Cos(a), Math.Sin(a));
        // Project each pixel onto the gradient's direction; t runs over [0, 1] across the image.
        double reach = (Math.Abs(ux) + Math.Abs(uy)) / 2;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double t = ((x + 0.5) / size - 0.5) * ux + ((y + 0.5) / size - 0.5) * uy;
                t = reach > 0 ? t / reach / 2 + 0.5 : 0.5;
                int i = (y * size + x) * 3;
                pixels[i] = (float)(background.From.R + (background.To.R - background.From.R) * t);
                pixels[i + 1] = (float)(background.From.G + (background.To.G - background.From.G) * t);
                pixels[i + 2] = (float)(background.From.B + (background.To.B - background.From.B) * t);
            }
    }

    /// <summary>Blends <paramref name="colour"/> over the pixels by each pixel's coverage of the shape.</summary>
    private static void Fill(float[] pixels, int size, ShapeKind kind, double cx, double cy, double half, double angle, float[] colour)
    {
        double reach = half * 1.5; // the box's corners, turned
        int x0 = Math.Max(0, (int)(cx - reach)), x1 = Math.Min(size - 1, (int)(cx + reach) + 1);
        int y0 = Math.Max(0, (int)(cy - reach)), y1 = Math.Min(size - 1, (int)(cy + reach) + 1);
        var (cos, sin) = (Math.Cos(angle), Math.Sin(angle));
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
            {
                int inside = 0;
                for (int sy = 0; sy < Samples; sy++)
                    for (int sx = 0; sx < Samples; sx++)
                    {
                        double dx = x + (sx + 0.5) / Samples - cx, dy = y + (sy + 0.5) / Samples - cy;
                        // Into the shape's own frame (turned back), in units of the half side.
                        double u = (dx * cos + dy * sin) / half, v = (-dx * sin + dy * cos) / half;
                        if (Inside(kind, u, v)) inside++;
                    }
                if (inside == 0) continue;
                float cover = inside / (float)(Samples * Samples);
                int i = (y * size + x) * 3;
                for (int c = 0; c < 3; c++) pixels[i + c] += (colour[c] - pixels[i + c]) * cover;
            }
    }

    private const double StarInner = 0.45;

    /// <summary>Is (u, v), in units of the half side from the centre (v down), inside the shape?</summary>
    public static bool Inside(ShapeKind kind, double u, double v)
    {
        double r2 = u * u + v * v;
        return kind switch
        {
            ShapeKind.Circle => r2 <= 1,
            ShapeKind.Ring => r2 <= 1 && r2 >= 0.55 * 0.55,
            // A little inside the box, so its area is close to the circle's.
            ShapeKind.Square => Math.Abs(u) <= 0.9 && Math.Abs(v) <= 0.9,
            // Pointing up: apex (0, -1), base corners (-1, 0.9) and (1, 0.9).
            ShapeKind.Triangle => v <= 0.9 && 1.9 * Math.Abs(u) <= v + 1,
            ShapeKind.Cross => (Math.Abs(u) <= 0.3 && Math.Abs(v) <= 1) || (Math.Abs(v) <= 0.3 && Math.Abs(u) <= 1),
            _ => InStar(u, v),
        };
    }

    /// <summary>A five-pointed star, one point up: fold the angle into one half point, then test the edge
    /// from the inner corner (radius 0.45) to the tip (radius 1).</summary>
    private static bool InStar(double u, double v)
    {
        double r = Math.Sqrt(u * u + v * v);
        if (r > 1) return false;
        double degrees = Math.Atan2(u, -v) * 180 / Math.PI;             // 0 at the top point
        double d = Math.Abs(((degrees % 72) + 72) % 72 - 36) * Math.PI / 180; // 0: towards an inner corner, 36: a tip
        var (ix, iy) = (StarInner, 0.0);
        var (ox, oy) = (Math.Cos(36 * Math.PI / 180), Math.Sin(36 * Math.PI / 180));
        var (px, py) = (r * Math.Cos(d), r * Math.Sin(d));
        return (ox - ix) * (py - iy) - (oy - iy) * (px - ix) >= 0;
    }
}
