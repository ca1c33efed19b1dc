using CaptionService.Training.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Tests.Training;

public class AugmentTests
{
    private static Image<Rgb24> LeftRed()
    {
        var image = new Image<Rgb24>(16, 8, new Rgb24(255, 255, 255));
        for (int y = 2; y < 6; y++)
            for (int x = 1; x < 5; x++) image[x, y] = new Rgb24(255, 0, 0);
        return image;
    }

    [Theory]
    [InlineData("a red square on the left", "a red square on the right")]
    [InlineData("Left of a circle, right of a square", "Right of a circle, left of a square")]
    [InlineData("a bright leftover", "a bright leftover")]
    public void Left_and_right_swap_as_whole_words(string caption, string expected) =>
        Assert.Equal(expected, Augment.SwapLeftRight(caption));

    [Fact]
    public void A_flip_mirrors_the_image_and_keeps_the_caption_true()
    {
        using var image = LeftRed();
        var only = new AugmentOptions { FlipProbability = 1, ColourProbability = 0, AffineProbability = 0 };
        var caption = Augment.Apply(image, "a red square on the left", only, new Random(1));
        Assert.Equal("a red square on the right", caption);
        Assert.Equal(new Rgb24(255, 0, 0), image[13, 3]);
        Assert.Equal(new Rgb24(255, 255, 255), image[2, 3]);
    }

    [Fact]
    public void The_same_seed_gives_the_same_augmentation_and_none_changes_nothing()
    {
        using var a = LeftRed();
        using var b = LeftRed();
        var options = new AugmentOptions { FlipProbability = 0.5, ColourProbability = 1, AffineProbability = 1 };
        Assert.Equal(Augment.Apply(a, "x on the left", options, new Random(7)), Augment.Apply(b, "x on the left", options, new Random(7)));
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 16; x++) Assert.Equal(a[x, y], b[x, y]);

        using var c = LeftRed();
        using var original = LeftRed();
        Assert.Equal("x on the left", Augment.Apply(c, "x on the left", AugmentOptions.None, new Random(7)));
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 16; x++) Assert.Equal(original[x, y], c[x, y]);
    }

    [Fact]
    public void Shift_scale_rotate_keeps_the_canvas_and_fills_with_the_background()
    {
        using var image = LeftRed();
        var affine = new AugmentOptions { FlipProbability = 0, ColourProbability = 0, AffineProbability = 1, MaxShift = 0.2f, MaxRotateDegrees = 20 };
        Augment.Apply(image, "x", affine, new Random(3));
        Assert.Equal(16, image.Width);
        Assert.Equal(8, image.Height);
        Assert.Equal(new Rgb24(255, 255, 255), image[15, 7]); // no black corners
    }
}
