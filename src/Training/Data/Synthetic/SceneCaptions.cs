namespace CaptionService.Training.Data.Synthetic;

/// <summary>
/// Captions of a synthetic scene, from a small fixed grammar (27 words, lower case, no final period):
/// <code>
/// NP    = "a" SIZE COLOUR KIND                 a large red circle
/// PLACE = on the left | on the right | at the top | at the bottom | in the center
/// one shape (4):  NP PLACE | there is NP PLACE | PLACE there is NP | a picture of NP PLACE
/// two shapes (5): L on the left and R on the right | R on the right and L on the left |
///                 L to the left of R | R to the right of L | there is L on the left and R on the right
/// </code>
/// Every caption names every shape fully, and left/right are always the image's left and right
/// (so a horizontal flip that swaps the two words keeps a caption true).
/// </summary>
public static class SceneCaptions
{
    public static IReadOnlyList<string> For(SynthScene scene)
    {
        if (scene.Shapes.Count == 1)
        {
            var (np, place) = (Phrase(scene.Shapes[0]), Place(scene.Shapes[0].Placement));
            return [$"{np} {place}", $"there is {np} {place}", $"{place} there is {np}", $"a picture of {np} {place}"];
        }
        var (l, r) = (Phrase(scene.Shapes[0]), Phrase(scene.Shapes[1]));
        return
        [
            $"{l} on the left and {r} on the right",
            $"{r} on the right and {l} on the left",
            $"{l} to the left of {r}",
            $"{r} to the right of {l}",
            $"there is {l} on the left and {r} on the right",
        ];
    }

    /// <summary>"a large red circle".</summary>
    public static string Phrase(SynthShape shape) =>
        $"a {shape.Size.ToString().ToLowerInvariant()} {shape.Colour} {shape.Kind.ToString().ToLowerInvariant()}";

    public static string Place(Placement placement) => placement switch
    {
        Placement.Left => "on the left",
        Placement.Right => "on the right",
        Placement.Top => "at the top",
        Placement.Bottom => "at the bottom",
        _ => "in the center",
    };
}
