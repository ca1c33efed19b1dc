using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Training.Cli;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Png(string name, Rgb24 colour)
    {
        var path = Path.Combine(dir, name);
        using var image = new Image<Rgb24>(40, 30, colour);
        image[3, 3] = new Rgb24(255, 255, 255);
        image.SaveAsPng(path);
        return path;
    }

    [Fact]
    public void Inspect_prints_the_design_s_full_size_counts()
    {
        var (code, output, _) = Run("inspect", "--preset", "vit-b16-gpt2", "--device", "cpu");
        Assert.Equal(0, code);
        var lines = Lines(output);
        Assert.Equal("85797120", lines["encoder"]);
        Assert.Equal("124439808", lines["decoder"]);
        Assert.Equal("28366848", lines["cross_attention"]);
        Assert.Equal((85_797_120L + 124_439_808 + 28_366_848).ToString(), lines["total"]);
        Assert.Equal("fp32", lines["dtype"]);
        Assert.Equal("cpu", lines["device"]);
    }

    [Fact]
    public void Init_then_inspect_and_caption_a_checkpoint()
    {
        var ckpt = Path.Combine(dir, "tiny");
        Assert.Equal(0, Run("init", "--preset", "tiny", "--out", ckpt, "--seed", "3").Code);
        Assert.True(File.Exists(Path.Combine(ckpt, "config.json")));

        var inspected = Lines(Run("inspect", "--checkpoint", ckpt).Out);
        Assert.Equal(new Captioner(Presets.Tiny).CountParameters().Total.ToString(), inspected["total"]);

        var red = Png("red.png", new Rgb24(200, 10, 10));
        var blue = Png("blue.png", new Rgb24(10, 10, 200));
        var (code, output, error) = Run("caption", "--checkpoint", ckpt, red, blue, "--max-tokens", "6");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("red.png\t", lines[0]);
        Assert.StartsWith("blue.png\t", lines[1]);

        // Same captions as the library gives for the same checkpoint and options.
        var pipeline = new CaptionPipeline(Checkpoint.Load(ckpt));
        var expected = pipeline.Caption([File.ReadAllBytes(red), File.ReadAllBytes(blue)],
            Presets.Tiny.Decoding with { MaxNewTokens = 6 });
        Assert.Equal($"red.png\t{expected[0].Text}", lines[0]);
        Assert.Equal($"blue.png\t{expected[1].Text}", lines[1]);

        // One image: the caption alone; seeded sampling repeats itself.
        var sample = new[] { "caption", "--checkpoint", ckpt, red, "--decoding", "sample", "--seed", "5", "--max-tokens", "6" };
        var once = Run(sample);
        Assert.Equal(0, once.Code);
        Assert.Equal(once.Out, Run(sample).Out);
        Assert.Equal(0, Run("caption", "--checkpoint", ckpt, red, "--decoding", "beam", "--num-beams", "2", "--max-tokens", "4").Code);
    }

    [Fact]
    public void A_bad_image_is_named_and_the_others_still_get_captions()
    {
        var good = Png("good.png", new Rgb24(0, 120, 0));
        var bad = Path.Combine(dir, "bad.png");
        File.WriteAllText(bad, "not an image at all");
        var (code, output, error) = Run("caption", "--preset", "tiny", good, bad, "--max-tokens", "3");
        Assert.Equal(1, code);
        Assert.Contains("bad.png", error);
        Assert.StartsWith("good.png\t", output);
    }

    [Fact]
    public void A_truncated_image_that_passes_identify_is_named_too()
    {
        var good = Png("good.png", new Rgb24(0, 120, 0));
        var whole = File.ReadAllBytes(Png("whole.png", new Rgb24(200, 0, 0)));
        var cut = Path.Combine(dir, "cut.png");
        File.WriteAllBytes(cut, whole[..(whole.Length / 2)]); // header intact, pixel data cut
        var (code, output, error) = Run("caption", "--preset", "tiny", cut, good, "--max-tokens", "3");
        Assert.Equal(1, code);
        Assert.Contains("cut.png", error);
        Assert.DoesNotContain("   at ", error);
        Assert.StartsWith("good.png\t", output);
    }

    [Fact]
    public void An_unknown_annotation_format_lists_the_known_ones()
    {
        var file = Path.Combine(dir, "captions.txt");
        File.WriteAllText(file, "image,caption\nx.png,a dog\n");
        var (code, _, error) = Run("evaluate", "--preset", "tiny", "--data", file, "--format", "parquet");
        Assert.Equal(2, code);
        Assert.Contains("parquet", error);
        Assert.Contains("jsonl", error);
    }

    [Theory]
    [InlineData("--top-p", "2", "--top-p")]
    [InlineData("--temperature", "0", "--temperature")]
    [InlineData("--num-beams", "0", "--num-beams")]
    public void Invalid_decoding_options_are_named(string option, string value, string named)
    {
        var image = Png("x.png", new Rgb24(1, 2, 3));
        var (code, _, error) = Run("caption", "--preset", "tiny", image, option, value);
        Assert.Equal(2, code);
        Assert.Contains(named, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Model_source_mistakes_are_explained()
    {
        var (code, _, error) = Run("inspect", "--preset", "tiny", "--checkpoint", dir);
        Assert.Equal(2, code);
        Assert.Contains("exactly one of --checkpoint", error);

        (code, _, error) = Run("inspect", "--preset", "huge");
        Assert.Equal(2, code);
        Assert.Contains("Unknown preset 'huge'", error);

        var missing = Path.Combine(dir, "nowhere");
        (code, _, error) = Run("inspect", "--checkpoint", missing);
        Assert.Equal(2, code);
        Assert.Contains(missing, error);

        (code, _, error) = Run("import-pretrained", "hf", "--source", missing, "--out", Path.Combine(dir, "out"));
        Assert.Equal(2, code);
        Assert.Contains(missing, error);
    }
}
