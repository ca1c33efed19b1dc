using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data.Synthetic;

/// <summary>Shape kinds, each mirror-symmetric about its vertical axis (so a horizontal flip keeps it what it is).</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Cross, Ring }

/// <summary>Box sides of about 0.14, 0.24 and 0.37 of the image side (see <see cref="SceneRenderer"/>).</summary>
public enum ShapeSize { Small, Medium, Large }

/// <summary>Where a shape sits. One shape: any of the nine. Two shapes: Left + Right, or Top + Bottom.</summary>
public enum Placement { Left, Right, Top, Bottom, Center, TopLeft, TopRight, BottomLeft, BottomRight }

/// <summary>One coloured shape of a synthetic scene. <paramref name="Colour"/> is a name from <see cref="SynthScene.Palette"/>.</summary>
public sealed record SynthShape(string Colour, ShapeKind Kind, ShapeSize Size, Placement Placement);

/// <summary>A light background: a linear gradient from <paramref name="From"/> to <paramref name="To"/> along
/// <paramref name="AngleDegrees"/> (0: left to right, 90: top to bottom).</summary>
public sealed record SynthBackground(Rgb24 From, Rgb24 To, double AngleDegrees);

/// <summary>A synthetic image: one shape, or two (left then right, or top then bottom) on a light background.</summary>
public sealed record SynthScene(SynthBackground Background, IReadOnlyList<SynthShape> Shapes)
{
    /// <summary>Colours by caption word; hues at least 25 degrees apart, or (black) far in lightness.</summary>
    public static readonly IReadOnlyDictionary<string, Rgb24> Palette = new Dictionary<string, Rgb24>
    {
        ["red"] = new(215, 30, 30),
        ["orange"] = new(245, 135, 15),
        ["yellow"] = new(235, 205, 15),
        ["green"] = new(35, 155, 55),
        ["blue"] = new(30, 75, 215),
        ["purple"] = new(130, 45, 170),
        ["pink"] = new(240, 105, 185),
        ["black"] = new(25, 25, 25),
    };

    public static readonly IReadOnlyList<string> ColourNames = [.. Palette.Keys];

    private static readonly int Kinds = Enum.GetValues<ShapeKind>().Length;

    /// <summary>The share of scenes with one shape; the rest are split evenly between side-by-side and stacked pairs.</summary>
    public const double SingleShare = 0.4;

    /// <summary>
    /// A random scene: with probability <see cref="SingleShare"/> one shape at one of the nine placements, else a
    /// pair, side by side (left, right) or stacked (top, bottom), half and half. Colour, kind and size are
    /// uniform and independent (two shapes may be alike). The background is a random light gradient.
    /// </summary>
    public static SynthScene Sample(ref SplitMix64 rng)
    {
        var background = LightGradient(ref rng);
        double layout = rng.NextDouble();
        if (layout < SingleShare)
            return new SynthScene(background, [Shape(ref rng, (Placement)rng.Next(9))]);
        var (first, second) = layout < SingleShare + (1 - SingleShare) / 2 ? (Placement.Left, Placement.Right) : (Placement.Top, Placement.Bottom);
        var a = Shape(ref rng, first);
        return new SynthScene(background, [a, Shape(ref rng, second)]);
    }

    private static SynthShape Shape(ref SplitMix64 rng, Placement placement)
    {
        var colour = ColourNames[rng.Next(ColourNames.Count)];
        var kind = (ShapeKind)rng.Next(Kinds);
        var size = (ShapeSize)rng.Next(3);
        return new SynthShape(colour, kind, size, placement);
    }

    /// <summary>Each channel of each end in [200, 255]: every palette colour stands out from it.</summary>
    private static SynthBackground LightGradient(ref SplitMix64 rng)
    {
        Rgb24 Light(ref SplitMix64 r) => new((byte)(200 + r.Next(56)), (byte)(200 + r.Next(56)), (byte)(200 + r.Next(56)));
        var from = Light(ref rng);
        var to = Light(ref rng);
        return new SynthBackground(from, to, rng.NextDouble() * 360);
    }
}

/// <summary>SplitMix64: a tiny PRNG whose sequence is fixed by its seed on every runtime (unlike System.Random's
/// unspecified algorithm), so generated files are byte-identical everywhere.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong state = seed;

    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n).</summary>
    public int Next(int n) => (int)(NextUInt64() % (ulong)n);

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [-max, max).</summary>
    public double Symmetric(double max) => (NextDouble() * 2 - 1) * max;
}
