using System.Text.RegularExpressions;

namespace CaptionService.Training.Data.Synthetic;

/// <summary>
/// Captions of a synthetic scene, from a small fixed grammar (lower case, no final period):
/// <code>
/// NP    = "a" SIZE COLOUR KIND                 a medium red star
/// PLACE = on the left | on the right | at the top | at the bottom | in the center |
///         in the top left corner | in the top right corner | in the bottom left corner | in the bottom right corner
/// one shape (4):       NP PLACE | there is NP PLACE | PLACE there is NP | a picture of NP PLACE
/// side by side (6):    L on the left and R on the right | R on the right and L on the left |
///                      L to the left of R | R to the right of L |
///                      there is L on the left and R on the right | there is R on the right and L on the left
/// stacked (6):         T at the top and B at the bottom | B at the bottom and T at the top |
///                      T above B | B below T |
///                      there is T at the top and B at the bottom | there is B at the bottom and T at the top
/// </code>
/// Every caption names every shape fully, and left/right are always the image's left and right. The
/// grammar is closed under a horizontal flip that swaps the words left and right (the training
/// augmentation): every flipped caption is a caption of the flipped scene. <see cref="Parse"/> reads any
/// of them back.
/// </summary>
public static partial class SceneCaptions
{
    public static IReadOnlyList<string> For(SynthScene scene)
    {
        if (scene.Shapes.Count == 1)
        {
            var (np, place) = (Phrase(scene.Shapes[0]), Place(scene.Shapes[0].Placement));
            return [$"{np} {place}", $"there is {np} {place}", $"{place} there is {np}", $"a picture of {np} {place}"];
        }
        var (a, b) = (Phrase(scene.Shapes[0]), Phrase(scene.Shapes[1]));
        if (scene.Shapes[0].Placement == Placement.Left)
            return
            [
                $"{a} on the left and {b} on the right",
                $"{b} on the right and {a} on the left",
                $"{a} to the left of {b}",
                $"{b} to the right of {a}",
                $"there is {a} on the left and {b} on the right",
                $"there is {b} on the right and {a} on the left",
            ];
        return
        [
            $"{a} at the top and {b} at the bottom",
            $"{b} at the bottom and {a} at the top",
            $"{a} above {b}",
            $"{b} below {a}",
            $"there is {a} at the top and {b} at the bottom",
            $"there is {b} at the bottom and {a} at the top",
        ];
    }

    /// <summary>"a medium red star".</summary>
    public static string Phrase(SynthShape shape) =>
        $"a {shape.Size.ToString().ToLowerInvariant()} {shape.Colour} {shape.Kind.ToString().ToLowerInvariant()}";

    public static string Place(Placement placement) => placement switch
    {
        Placement.Left => "on the left",
        Placement.Right => "on the right",
        Placement.Top => "at the top",
        Placement.Bottom => "at the bottom",
        Placement.TopLeft => "in the top left corner",
        Placement.TopRight => "in the top right corner",
        Placement.BottomLeft => "in the bottom left corner",
        Placement.BottomRight => "in the bottom right corner",
        _ => "in the center",
    };

    /// <summary>
    /// The shapes a caption of this grammar describes, in scene order (a pair: left then right, or top then
    /// bottom), or null when the text is not a caption of the grammar. Case, surrounding blanks, repeated
    /// spaces and a final period are ignored.
    /// </summary>
    public static IReadOnlyList<SynthShape>? Parse(string caption)
    {
        var text = Blanks().Replace(caption.Trim().TrimEnd('.').Trim().ToLowerInvariant(), " ");
        foreach (var (pattern, build) in Templates)
        {
            var m = pattern.Match(text);
            if (m.Success) return build(m);
        }
        return null;
    }

    private const string Np = "a (small|medium|large) (red|orange|yellow|green|blue|purple|pink|black) (circle|square|triangle|star|cross|ring)";

    private static SynthShape Shape(Match m, int np, Placement placement) => new(
        m.Groups[np * 3 + 2].Value,
        Enum.Parse<ShapeKind>(m.Groups[np * 3 + 3].Value, ignoreCase: true),
        Enum.Parse<ShapeSize>(m.Groups[np * 3 + 1].Value, ignoreCase: true),
        placement);

    private static readonly Dictionary<string, Placement> Places =
        Enum.GetValues<Placement>().ToDictionary(Place, p => p);

    private static readonly string PlaceAlternatives = string.Join("|", Places.Keys.Select(Regex.Escape));

    /// <summary>One regex per template, anchored; NP groups are (size, colour, kind) in order of appearance.</summary>
    private static readonly (Regex Pattern, Func<Match, IReadOnlyList<SynthShape>> Build)[] Templates =
    [
        .. new[] { $"{Np} ({PlaceAlternatives})", $"there is {Np} ({PlaceAlternatives})", $"a picture of {Np} ({PlaceAlternatives})" }
            .Select(p => (Anchored(p), (Func<Match, IReadOnlyList<SynthShape>>)(m => [Shape(m, 0, Places[m.Groups[4].Value])]))),
        (Anchored($"({PlaceAlternatives}) there is {Np}"), m => [ShapeAfterPlace(m)]),
        Pair($"{Np} on the left and {Np} on the right", Placement.Left, Placement.Right, swapped: false),
        Pair($"there is {Np} on the left and {Np} on the right", Placement.Left, Placement.Right, swapped: false),
        Pair($"{Np} on the right and {Np} on the left", Placement.Left, Placement.Right, swapped: true),
        Pair($"there is {Np} on the right and {Np} on the left", Placement.Left, Placement.Right, swapped: true),
        Pair($"{Np} to the left of {Np}", Placement.Left, Placement.Right, swapped: false),
        Pair($"{Np} to the right of {Np}", Placement.Left, Placement.Right, swapped: true),
        Pair($"{Np} at the top and {Np} at the bottom", Placement.Top, Placement.Bottom, swapped: false),
        Pair($"there is {Np} at the top and {Np} at the bottom", Placement.Top, Placement.Bottom, swapped: false),
        Pair($"{Np} at the bottom and {Np} at the top", Placement.Top, Placement.Bottom, swapped: true),
        Pair($"there is {Np} at the bottom and {Np} at the top", Placement.Top, Placement.Bottom, swapped: true),
        Pair($"{Np} above {Np}", Placement.Top, Placement.Bottom, swapped: false),
        Pair($"{Np} below {Np}", Placement.Top, Placement.Bottom, swapped: true),
    ];

    private static SynthShape ShapeAfterPlace(Match m) => new(
        m.Groups[3].Value, Enum.Parse<ShapeKind>(m.Groups[4].Value, ignoreCase: true),
        Enum.Parse<ShapeSize>(m.Groups[2].Value, ignoreCase: true), Places[m.Groups[1].Value]);

    /// <summary>A two-shape template; <paramref name="swapped"/>: the caption names the second shape (right, bottom) first.</summary>
    private static (Regex, Func<Match, IReadOnlyList<SynthShape>>) Pair(string pattern, Placement first, Placement second, bool swapped) =>
        (Anchored(pattern), m => swapped ? [Shape(m, 1, first), Shape(m, 0, second)] : [Shape(m, 0, first), Shape(m, 1, second)]);

    private static Regex Anchored(string pattern) => new($"^{pattern}$", RegexOptions.CultureInvariant);

    [GeneratedRegex(@"\s+")]
    private static partial Regex Blanks();
}
