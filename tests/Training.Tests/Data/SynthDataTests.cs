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
    public void Writes_coco_splits_that_read_back_with_true_captions()
    {
        const int seed = 7, size = 64;
        var summary = SynthData.Generate(dir.Path("synth"), images: 30, seed, size);
        Assert.Equal([24, 3, 3], SynthData.Splits.Select(s => summary.Images[s]));

        var splits = SynthData.Splits.ToDictionary(s => s, s => DatasetReader.Read(dir.Path($"synth/captions_{s}.json")));
        var all = splits.Values.SelectMany(d => d.Images).ToList();
        Assert.Equal(30, all.Count);
        Assert.Equal(30, all.Select(i => i.ImageId).Distinct().Count()); // splits are disjoint
        Assert.Equal([24, 3, 3], SynthData.Splits.Select(s => splits[s].Images.Count));
        Assert.All(splits.Values, d => Assert.Equal(DatasetFormat.Coco, d.Format));
        Assert.All(splits.Values, d => Assert.Equal(0, d.Report.MissingImages));
        Assert.Equal(summary.Captions, splits.Values.Sum(d => d.Report.CaptionsRead));

        foreach (var image in all)
        {
            var scene = SynthData.SceneFor(seed, int.Parse(image.ImageId) - 1);
            Assert.InRange(image.Captions.Count, 3, 5);
            Assert.Equal(SceneCaptions.For(scene), image.Captions);
            // Every caption names every shape in full: size, colour, kind.
            foreach (var caption in image.Captions)
                foreach (var shape in scene.Shapes)
                    Assert.Contains($"{shape.Size.ToString().ToLowerInvariant()} {shape.Colour} {shape.Kind.ToString().ToLowerInvariant()}", caption);
            CheckPixels(image.ImagePath, scene, size);
        }
    }

    /// <summary>The picture agrees with the caption: each shape's colour is in its region, at its size.</summary>
    private static void CheckPixels(string path, SynthScene scene, int size)
    {
        using var image = Image.Load<Rgb24>(path);
        Assert.Equal(size, image.Width);
        Assert.Contains(image[0, 0], SynthScene.Backgrounds);
        foreach (var shape in scene.Shapes)
        {
            var colour = SynthScene.Palette[shape.Colour];
            int count = 0;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    if (image[x, y].Equals(colour) && InRegion(shape.Placement, (x + 0.5) / size, (y + 0.5) / size)) count++;
            double area = count / (double)(size * size);
            if (shape.Size == ShapeSize.Small) Assert.InRange(area, 0.02, 0.06);
            else Assert.InRange(area, 0.08, 0.22);
        }
        if (scene.Shapes.Count == 2 && scene.Shapes[0].Colour != scene.Shapes[1].Colour)
        {
            // Nothing of the right shape's colour left of the middle, and the reverse.
            var (left, right) = (SynthScene.Palette[scene.Shapes[0].Colour], SynthScene.Palette[scene.Shapes[1].Colour]);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    Assert.False(image[x, y].Equals(x < size / 2 ? right : left), $"{path}: wrong colour at ({x}, {y})");
        }
    }

    private static bool InRegion(Placement placement, double x, double y) => placement switch
    {
        Placement.Left => x < 0.5,
        Placement.Right => x >= 0.5,
        Placement.Top => y < 0.5,
        Placement.Bottom => y >= 0.5,
        _ => Math.Abs(x - 0.5) < 0.3 && Math.Abs(y - 0.5) < 0.3,
    };

    [Fact]
    public void The_grammar_is_small_and_covers_every_placement()
    {
        var scenes = Enumerable.Range(0, 400).Select(i => SynthData.SceneFor(3, i)).ToList();
        var words = scenes.SelectMany(SceneCaptions.For).SelectMany(c => c.Split(' ')).ToHashSet();
        string[] expected =
        [
            "a", "small", "large", "red", "green", "blue", "yellow", "purple", "orange", "black", "circle", "square", "triangle",
            "on", "the", "left", "right", "at", "top", "bottom", "in", "center", "there", "is", "picture", "of", "and", "to",
        ];
        Assert.Equal(expected.Order(), words.Order());
        Assert.Equal(Enum.GetValues<Placement>().Order(), scenes.Where(s => s.Shapes.Count == 1).Select(s => s.Shapes[0].Placement).Distinct().Order());
        Assert.InRange(scenes.Count(s => s.Shapes.Count == 2), 150, 250);
        Assert.All(scenes.Where(s => s.Shapes.Count == 2), s => Assert.Equal([Placement.Left, Placement.Right], s.Shapes.Select(x => x.Placement)));
        Assert.Equal(
            ["a large red circle on the left and a small blue square on the right",
             "a small blue square on the right and a large red circle on the left",
             "a large red circle to the left of a small blue square",
             "a small blue square to the right of a large red circle",
             "there is a large red circle on the left and a small blue square on the right"],
            SceneCaptions.For(new SynthScene(SynthScene.Backgrounds[0],
                [new("red", ShapeKind.Circle, ShapeSize.Large, Placement.Left), new("blue", ShapeKind.Square, ShapeSize.Small, Placement.Right)])));
        Assert.Equal(
            ["a small green triangle at the top", "there is a small green triangle at the top",
             "at the top there is a small green triangle", "a picture of a small green triangle at the top"],
            SceneCaptions.For(new SynthScene(SynthScene.Backgrounds[1], [new("green", ShapeKind.Triangle, ShapeSize.Small, Placement.Top)])));
    }

    private static Dictionary<string, string> Hashes(string root) =>
        Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void The_same_seed_writes_byte_identical_files()
    {
        SynthData.Generate(dir.Path("a"), 12, seed: 5);
        SynthData.Generate(dir.Path("b"), 12, seed: 5);
        SynthData.Generate(dir.Path("c"), 12, seed: 6);
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
