using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class SceneErrorsTests
{
    private static readonly IReadOnlyList<string> Pair =
        ["a large red circle on the left and a small blue square on the right", "a large red circle to the left of a small blue square"];

    private static readonly IReadOnlyList<string> Single = ["a medium green star in the top left corner", "there is a medium green star in the top left corner"];

    [Fact]
    public void Counts_each_attribute_and_matches_a_swapped_pair_as_a_position_error()
    {
        var errors = SceneErrors.Analyze(
        [
            ("a small blue square to the right of a large red circle", Pair),                // right, in another template
            ("a small blue square on the left and a large red circle on the right", Pair),    // left and right swapped
            ("a large red circle on the left and a small blue ring on the right", Pair),      // shape
            ("a large orange circle on the left and a small blue square on the right", Pair), // colour
            ("a large red circle at the top and a small blue square at the bottom", Pair),    // stacked, not side by side
            ("a large green star in the top left corner", Single),                            // size
            ("a medium green star in the top right corner", Single),                          // position
            ("a medium green star", Single),                                                  // not a caption of the grammar
            ("a medium green star on the left and a small red ring on the right", Single),    // two shapes for one
        ])!;
        Assert.Equal(9, errors.Images);
        Assert.Equal(1, errors.Exact);
        Assert.Equal(1, errors.Unparsed);
        Assert.Equal(1, errors.WrongCount);
        Assert.Equal(1, errors.Colour);
        Assert.Equal(1, errors.Shape);
        Assert.Equal(1, errors.Size);
        Assert.Equal(3, errors.Position);
        Assert.Equal(1 / 9.0, errors.Rate(errors.Colour), 12);

        var table = new StringWriter();
        errors.WriteTable(table);
        Assert.Contains("synthetic scenes: 9 images", table.ToString());
        Assert.Contains("position: 3 (33.3 %)", table.ToString());
    }

    [Fact]
    public void Is_null_unless_every_reference_describes_one_synthetic_scene()
    {
        Assert.Null(SceneErrors.Analyze([("a dog", ["A dog runs on the beach."])]));
        Assert.Null(SceneErrors.Analyze([("a large red circle on the left", ["a large red circle on the left", "a small red circle on the left"])]));
        Assert.NotNull(SceneErrors.Analyze([("a dog", Single)]));
    }
}
