using System.Security.Cryptography;
using CaptionService.Training.Cli;
using CaptionService.Training.Data;
using CaptionService.Training.Data.Synthetic;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Tests.Data;

public sealed class SynthDataTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Writes_coco_files_with_their_own_splits_that_read_back_with_true_captions()
    {
        const int seed = 7, size = 96;
        var summary = SynthData.Generate(dir.Path("synth"), images: 40, seed, size);
        Assert.Equal([32, 4, 4], SynthData.Splits.Select(s => summary.Images[s]));

        var splits = SynthData.Splits.ToDictionary(s => s, s => DatasetReader.Read(dir.Path($"synth/captions_{s}.json")));
        var all = splits.Values.SelectMany(d => d.Images).ToList();
        Assert.Equal(40, all.Count);
        Assert.Equal(40, all.Select(i => i.ImageId).Distinct().Count()); // splits are disjoint
        Assert.All(splits, s => Assert.All(s.Value.Images, i => Assert.Equal(s.Key, i.Split)));
        Assert.All(splits.Values, d => Assert.Equal(DatasetFormat.Coco, d.Format));
        Assert.All(splits.Values, d => Assert.Equal(0, d.Report.MissingImages));
        Assert.Equal(summary.Captions, splits.Values.Sum(d => d.Report.CaptionsKept));

        foreach (var image in all)
        {
            var scene = SynthData.SceneFor(seed, int.Parse(image.ImageId) - 1);
            Assert.Equal(SceneCaptions.For(scene), image.Captions);
            Assert.InRange(image.Captions.Count, 4, 6);
            // Every caption names every shape in full, and reads back as the scene.
            foreach (var caption in image.Captions)
            {
                foreach (var shape in scene.Shapes)
                    Assert.Contains(SceneCaptions.Phrase(shape), caption);
                Assert.Equal(scene.Shapes, SceneCaptions.Parse(caption));
            }
            CheckPixels(image.ImagePath, scene, size);
        }
    }

    /// <summary>
    /// The picture agrees with the caption: for each shape, the pixels near its colour in its part of the image
    /// span the right size class (extent over the image side: small up to 0.16, medium 0.165-0.28, large from 0.28).
    /// </summary>
    private static void CheckPixels(string path, SynthScene scene, int size)
    {
        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(size, image.Width);
        foreach (var shape in scene.Shapes)
        {
            var colour = SynthScene.Palette[shape.Colour];
            var (cx, cy) = SceneRenderer.Centre(shape.Placement);
            int x0 = size, x1 = -1, y0 = size, y1 = -1;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    // A pair's shape: its half of the image; and a colour within the jitter.
                    bool across = shape.Placement is Placement.Left or Placement.Right;
                    if (scene.Shapes.Count == 2 && Math.Abs((across ? (x + 0.5) : (y + 0.5)) / size - (across ? cx : cy)) > 0.25) continue;
                    var p = image[x, y];
                    if (Math.Abs(p.R - colour.R) + Math.Abs(p.G - colour.G) + Math.Abs(p.B - colour.B) > 3 * (SceneRenderer.ColourJitter + SceneRenderer.Noise)) continue;
                    (x0, x1, y0, y1) = (Math.Min(x0, x), Math.Max(x1, x), Math.Min(y0, y), Math.Max(y1, y));
                }
            Assert.True(x1 >= 0, $"{path}: no {shape.Colour} pixels near {shape.Placement}");
            double extent = Math.Max(x1 - x0 + 1, y1 - y0 + 1) / (double)size;
            var (low, high) = shape.Size switch
            {
                ShapeSize.Small => (0.06, 0.16),
                ShapeSize.Medium => (0.165, 0.28),
                _ => (0.28, 0.42),
            };
            Assert.True(extent >= low && extent <= high, $"{path}: {SceneCaptions.Phrase(shape)} spans {extent:F3} of the side");
        }
    }

    [Fact]
    public void The_grammar_covers_every_shape_size_placement_and_relation()
    {
        var scenes = Enumerable.Range(0, 2000).Select(i => SynthData.SceneFor(3, i)).ToList();
        var words = scenes.SelectMany(SceneCaptions.For).SelectMany(c => c.Split(' ')).ToHashSet();
        string[] expected =
        [
            "a", "small", "medium", "large", .. SynthScene.ColourNames, "circle", "square", "triangle", "star", "cross", "ring",
            "on", "the", "left", "right", "at", "top", "bottom", "in", "center", "corner", "there", "is", "picture", "of", "and", "to", "above", "below",
        ];
        Assert.Equal(expected.Order(), words.Order());
        Assert.Equal(Enum.GetValues<Placement>().Order(), scenes.Where(s => s.Shapes.Count == 1).Select(s => s.Shapes[0].Placement).Distinct().Order());
        Assert.InRange(scenes.Count(s => s.Shapes.Count == 1), 700, 900); // 40%
        Assert.InRange(scenes.Count(s => s.Shapes.Count == 2 && s.Shapes[0].Placement == Placement.Left), 500, 700);
        Assert.All(scenes.Where(s => s.Shapes.Count == 2), s => Assert.Contains(
            (s.Shapes[0].Placement, s.Shapes[1].Placement), new[] { (Placement.Left, Placement.Right), (Placement.Top, Placement.Bottom) }));

        var left = new SynthShape("red", ShapeKind.Triangle, ShapeSize.Large, Placement.Left);
        var right = new SynthShape("blue", ShapeKind.Ring, ShapeSize.Small, Placement.Right);
        Assert.Equal(
            ["a large red triangle on the left and a small blue ring on the right",
             "a small blue ring on the right and a large red triangle on the left",
             "a large red triangle to the left of a small blue ring",
             "a small blue ring to the right of a large red triangle",
             "there is a large red triangle on the left and a small blue ring on the right",
             "there is a small blue ring on the right and a large red triangle on the left"],
            SceneCaptions.For(new SynthScene(Background, [left, right])));
        var top = left with { Placement = Placement.Top };
        var bottom = right with { Placement = Placement.Bottom };
        Assert.Equal(
            ["a large red triangle at the top and a small blue ring at the bottom",
             "a small blue ring at the bottom and a large red triangle at the top",
             "a large red triangle above a small blue ring",
             "a small blue ring below a large red triangle",
             "there is a large red triangle at the top and a small blue ring at the bottom",
             "there is a small blue ring at the bottom and a large red triangle at the top"],
            SceneCaptions.For(new SynthScene(Background, [top, bottom])));
        Assert.Equal(
            ["a medium green star in the top left corner", "there is a medium green star in the top left corner",
             "in the top left corner there is a medium green star", "a picture of a medium green star in the top left corner"],
            SceneCaptions.For(new SynthScene(Background, [new("green", ShapeKind.Star, ShapeSize.Medium, Placement.TopLeft)])));
    }

    private static readonly SynthBackground Background = new(new Rgb24(255, 255, 255), new Rgb24(230, 230, 230), 0);

    [Fact]
    public void Parse_reads_every_template_back_and_nothing_else()
    {
        foreach (var scene in Enumerable.Range(0, 500).Select(i => SynthData.SceneFor(11, i)))
            foreach (var caption in SceneCaptions.For(scene))
                Assert.Equal(scene.Shapes, SceneCaptions.Parse(caption));

        Assert.Equal([new SynthShape("pink", ShapeKind.Cross, ShapeSize.Small, Placement.BottomRight)],
            SceneCaptions.Parse("  A small pink cross  in the bottom right corner. "));
        Assert.Null(SceneCaptions.Parse("a red circle on the left"));                       // no size
        Assert.Null(SceneCaptions.Parse("a large red circle on the left and"));
        Assert.Null(SceneCaptions.Parse("a large red circle above a small blue square on the right"));
        Assert.Null(SceneCaptions.Parse("a large white circle on the left"));               // not a palette colour
        Assert.Null(SceneCaptions.Parse("a large red circle in the top corner"));
        Assert.Null(SceneCaptions.Parse("a dog running on the beach"));
    }

    [Fact]
    public void A_flip_that_swaps_left_and_right_keeps_every_caption_in_the_grammar_and_true()
    {
        static Placement Mirror(Placement p) => p switch
        {
            Placement.Left => Placement.Right,
            Placement.Right => Placement.Left,
            Placement.TopLeft => Placement.TopRight,
            Placement.TopRight => Placement.TopLeft,
            Placement.BottomLeft => Placement.BottomRight,
            Placement.BottomRight => Placement.BottomLeft,
            _ => p,
        };
        foreach (var scene in Enumerable.Range(0, 300).Select(i => SynthData.SceneFor(5, i)))
        {
            var mirrored = scene.Shapes.Select(s => s with { Placement = Mirror(s.Placement) }).OrderBy(s => s.Placement).ToList();
            foreach (var caption in SceneCaptions.For(scene))
                Assert.Equal(mirrored, SceneCaptions.Parse(Augment.SwapLeftRight(caption)));
        }
    }

    [Fact]
    public void Shapes_are_mirror_symmetric_so_a_flip_keeps_them_what_they_are()
    {
        foreach (var kind in Enum.GetValues<ShapeKind>())
            for (double u = -1.2; u <= 1.2; u += 0.05)
                for (double v = -1.2; v <= 1.2; v += 0.05)
                    Assert.Equal(SceneRenderer.Inside(kind, u, v), SceneRenderer.Inside(kind, -u, v));
        // And each is its own shape: no two kinds cover the same points.
        var kinds = Enum.GetValues<ShapeKind>();
        var masks = kinds.ToDictionary(k => k, k => Enumerable.Range(0, 41 * 41).Select(i => SceneRenderer.Inside(k, (i % 41 - 20) / 20.0, (i / 41 - 20) / 20.0)).ToArray());
        foreach (var a in kinds)
            foreach (var b in kinds.Where(b => b > a))
                Assert.True(masks[a].Zip(masks[b]).Count(p => p.First != p.Second) > 41 * 41 / 20, $"{a} and {b} look alike");
    }

    private static Dictionary<string, string> Hashes(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void The_same_seed_writes_byte_identical_files()
    {
        SynthData.Generate(dir.Path("a"), 12, seed: 5, imageSize: 48);
        SynthData.Generate(dir.Path("b"), 12, seed: 5, imageSize: 48);
        SynthData.Generate(dir.Path("c"), 12, seed: 6, imageSize: 48);
        var a = Hashes(dir.Path("a"));
        Assert.Equal(15, a.Count);
        Assert.Equal(a, Hashes(dir.Path("b")));
        Assert.NotEqual(a["captions_train.json"], Hashes(dir.Path("c"))["captions_train.json"]);
    }

    [Fact]
    public void The_cli_command_writes_the_same_dataset()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(CliRunner.CreateRoot(), ["synth-data", "--out", dir.Path("cli"), "--images", "10", "--seed", "4", "--size", "32"], output, error);
        Assert.True(code == 0, error.ToString());
        Assert.Contains($"train: 8 images -> {dir.Path("cli/captions_train.json")}", output.ToString());
        Assert.Contains("val: 1 images", output.ToString());

        SynthData.Generate(dir.Path("lib"), 10, seed: 4, imageSize: 32);
        Assert.Equal(Hashes(dir.Path("lib")), Hashes(dir.Path("cli")));
        using var image = Image.Load<Rgb24>(dir.Path("cli/images/000000.png"));
        Assert.Equal(32, image.Height);

        error = new StringWriter();
        code = CliRunner.Run(CliRunner.CreateRoot(), ["synth-data", "--out", dir.Path("x"), "--images", "0"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("--images must be at least 1", error.ToString());
    }
}
