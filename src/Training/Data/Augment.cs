using System.Numerics;
using System.Text.RegularExpressions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Training.Data;

/// <summary>Which training-time augmentations run, and how strongly (the seed's set, on ImageSharp).</summary>
public sealed record AugmentOptions
{
    public static AugmentOptions None { get; } = new() { FlipProbability = 0, ColourProbability = 0, AffineProbability = 0 };

    public double FlipProbability { get; init; } = 0.5;
    /// <summary>Brightness/contrast and hue/saturation jitter.</summary>
    public double ColourProbability { get; init; } = 0.5;
    public float MaxBrightness { get; init; } = 0.2f;
    public float MaxContrast { get; init; } = 0.2f;
    public float MaxSaturation { get; init; } = 0.2f;
    public float MaxHueDegrees { get; init; } = 10f;
    /// <summary>Shift-scale-rotate.</summary>
    public double AffineProbability { get; init; } = 0.5;
    public float MaxShift { get; init; } = 0.05f;
    public float MaxScale { get; init; } = 0.05f;
    public float MaxRotateDegrees { get; init; } = 10f;
}

/// <summary>
/// Training-only augmentations. Every random choice comes from the <see cref="Random"/> passed in,
/// so a sample's augmentation is reproducible from its seed. A horizontal flip also swaps the
/// words left and right in the caption, so the caption stays true.
/// </summary>
public static partial class Augment
{
    /// <summary>Augments <paramref name="image"/> in place and returns the caption that now describes it.</summary>
    public static string Apply(Image<Rgb24> image, string caption, AugmentOptions options, Random rng) =>
        Apply(image, [caption], options, rng)[0];

    /// <summary>Augments <paramref name="image"/> in place and returns the captions that now describe it (each of
    /// <paramref name="captions"/>, with left and right swapped when the image was flipped).</summary>
    public static string[] Apply(Image<Rgb24> image, IReadOnlyList<string> captions, AugmentOptions options, Random rng)
    {
        // Draw every number up front, in a fixed order, whatever is enabled: the stream stays aligned.
        bool flip = rng.NextDouble() < options.FlipProbability;
        bool colour = rng.NextDouble() < options.ColourProbability;
        float brightness = 1 + Uniform(rng, options.MaxBrightness), contrast = 1 + Uniform(rng, options.MaxContrast);
        float saturation = 1 + Uniform(rng, options.MaxSaturation), hue = Uniform(rng, options.MaxHueDegrees);
        bool affine = rng.NextDouble() < options.AffineProbability;
        float dx = Uniform(rng, options.MaxShift), dy = Uniform(rng, options.MaxShift);
        float scale = 1 + Uniform(rng, options.MaxScale), angle = Uniform(rng, options.MaxRotateDegrees);

        if (flip)
            image.Mutate(x => x.Flip(FlipMode.Horizontal));
        if (colour)
            image.Mutate(x => x.Brightness(brightness).Contrast(contrast).Saturate(saturation).Hue(hue));
        if (affine)
            ShiftScaleRotate(image, dx, dy, scale, angle);
        return flip ? captions.Select(SwapLeftRight).ToArray() : captions.ToArray();
    }

    /// <summary>Rotates and scales about the centre, then shifts (fractions of the size); keeps the
    /// canvas, cutting what leaves it and filling what enters with the top-left corner's colour.</summary>
    private static void ShiftScaleRotate(Image<Rgb24> image, float dx, float dy, float scale, float degrees)
    {
        var (w, h) = (image.Width, image.Height);
        var centre = new Vector2(w / 2f, h / 2f);
        var matrix = Matrix3x2.CreateTranslation(-centre)
            * Matrix3x2.CreateScale(scale)
            * Matrix3x2.CreateRotation(degrees * MathF.PI / 180)
            * Matrix3x2.CreateTranslation(centre + new Vector2(dx * w, dy * h));
        var corner = image[0, 0];
        using var moved = image.CloneAs<Rgba32>();
        moved.Mutate(x => x
            .Transform(new Rectangle(0, 0, w, h), matrix, new Size(w, h), KnownResamplers.Bicubic)
            .BackgroundColor(Color.FromRgb(corner.R, corner.G, corner.B)));
        image.Mutate(x => x.DrawImage(moved, 1f));
    }

    /// <summary>"left" &lt;-&gt; "right" as whole words, keeping capitalization.</summary>
    public static string SwapLeftRight(string caption) =>
        LeftOrRight().Replace(caption, m => m.Value switch
        {
            "left" => "right",
            "right" => "left",
            "Left" => "Right",
            "Right" => "Left",
            "LEFT" => "RIGHT",
            _ => "LEFT",
        });

    private static float Uniform(Random rng, float max) => (float)((rng.NextDouble() * 2 - 1) * max);

    [GeneratedRegex(@"\b(left|right|Left|Right|LEFT|RIGHT)\b")]
    private static partial Regex LeftOrRight();
}
