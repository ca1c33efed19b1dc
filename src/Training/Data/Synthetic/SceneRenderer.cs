using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data.Synthetic;

/// <summary>
/// Draws a scene pixel by pixel (no anti-aliasing). Each shape fills a box centred on its placement:
/// left/right at x = 1/4 and 3/4 of the side, top/bottom at y = 1/4 and 3/4, center in the middle;
/// large boxes are 0.46 of the side, small 0.24. A small jitter moves a box (large: by 0.015 of the side,
/// small: 0.08) but never across the middle line, so two shapes never touch and every placement stays clear.
/// </summary>
public static class SceneRenderer
{
    public const double LargeSide = 0.46, SmallSide = 0.24;

    /// <summary>Renders <paramref name="scene"/>; <paramref name="rng"/> gives the jitter.</summary>
    public static Image<Rgb24> Render(SynthScene scene, int size, ref SplitMix64 rng)
    {
        var image = new Image<Rgb24>(size, size, scene.Background);
        foreach (var shape in scene.Shapes)
        {
            var (cx, cy) = Centre(shape.Placement);
            double jitter = shape.Size == ShapeSize.Large ? 0.015 : 0.08;
            cx += (rng.NextDouble() * 2 - 1) * jitter;
            cy += (rng.NextDouble() * 2 - 1) * jitter;
            double half = (shape.Size == ShapeSize.Large ? LargeSide : SmallSide) / 2 * size;
            Fill(image, shape.Kind, cx * size, cy * size, half, SynthScene.Palette[shape.Colour]);
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
        _ => (0.5, 0.5),
    };

    private static void Fill(Image<Rgb24> image, ShapeKind kind, double cx, double cy, double h, Rgb24 colour)
    {
        int x0 = Math.Max(0, (int)(cx - h) - 1), x1 = Math.Min(image.Width - 1, (int)(cx + h) + 1);
        int y0 = Math.Max(0, (int)(cy - h) - 1), y1 = Math.Min(image.Height - 1, (int)(cy + h) + 1);
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++)
                if (Inside(kind, x + 0.5 - cx, y + 0.5 - cy, h))
                    image[x, y] = colour;
    }

    /// <summary>Is the point (dx, dy) from the box centre inside the shape of half-size h?</summary>
    private static bool Inside(ShapeKind kind, double dx, double dy, double h) => kind switch
    {
        // Circle by distance; the square a little inside the box, so its area matches the circle's.
        ShapeKind.Circle => dx * dx + dy * dy <= h * h,
        ShapeKind.Square => Math.Abs(dx) <= 0.9 * h && Math.Abs(dy) <= 0.9 * h,
        // Triangle pointing up: apex (0, -h), base corners (-h, 0.9h) and (h, 0.9h); inside = on the inner
        // side of all three edges (signs of the edge cross products).
        _ => dy <= 0.9 * h && Edge(0, -h, -h, 0.9 * h, dx, dy) <= 0 && Edge(h, 0.9 * h, 0, -h, dx, dy) <= 0,
    };

    /// <summary>Cross product of (b - a) and (p - a): its sign says which side of the line a->b the point p is on.</summary>
    private static double Edge(double ax, double ay, double bx, double by, double px, double py) =>
        (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}
