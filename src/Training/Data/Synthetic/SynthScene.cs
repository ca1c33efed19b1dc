using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data.Synthetic;

public enum ShapeKind { Circle, Square, Triangle }

/// <summary>Small: a quarter of the image side; large: about half.</summary>
public enum ShapeSize { Small, Large }

/// <summary>Where a shape sits: one shape anywhere of the five; two shapes always Left + Right.</summary>
public enum Placement { Left, Right, Top, Bottom, Center }

/// <summary>One coloured shape of a synthetic scene. <paramref name="Colour"/> is a name from <see cref="SynthScene.Palette"/>.</summary>
public sealed record SynthShape(string Colour, ShapeKind Kind, ShapeSize Size, Placement Placement);

/// <summary>A synthetic image: 1 or 2 shapes (left one first) on a plain light background.</summary>
public sealed record SynthScene(Rgb24 Background, IReadOnlyList<SynthShape> Shapes)
{
    /// <summary>Clearly distinct colours, by caption word.</summary>
    public static readonly IReadOnlyDictionary<string, Rgb24> Palette = new Dictionary<string, Rgb24>
    {
        ["red"] = new(220, 30, 30),
        ["green"] = new(30, 160, 50),
        ["blue"] = new(30, 70, 220),
        ["yellow"] = new(240, 200, 20),
        ["purple"] = new(140, 50, 170),
        ["orange"] = new(245, 130, 20),
        ["black"] = new(20, 20, 20),
    };

    /// <summary>White or light grey.</summary>
    public static readonly IReadOnlyList<Rgb24> Backgrounds = [new(255, 255, 255), new(225, 225, 225)];

    private static readonly string[] ColourNames = [.. Palette.Keys];

    /// <summary>A random scene: half the time one shape (at one of the five placements), else a left and a right shape.</summary>
    public static SynthScene Sample(ref SplitMix64 rng)
    {
        var background = Backgrounds[rng.Next(Backgrounds.Count)];
        if (rng.Next(2) == 0)
            return new SynthScene(background, [Shape(ref rng, (Placement)rng.Next(5))]);
        var left = Shape(ref rng, Placement.Left);
        return new SynthScene(background, [left, Shape(ref rng, Placement.Right)]);
    }

    private static SynthShape Shape(ref SplitMix64 rng, Placement placement)
    {
        var colour = ColourNames[rng.Next(ColourNames.Length)];
        var kind = (ShapeKind)rng.Next(3);
        var size = (ShapeSize)rng.Next(2);
        return new SynthShape(colour, kind, size, placement);
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
}
