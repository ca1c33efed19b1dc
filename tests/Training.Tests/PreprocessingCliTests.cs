using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using CaptionService.Training.Data.Synthetic;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

/// <summary>`captioner` uses, shows and records a checkpoint's preprocessing.</summary>
[Collection(SerialCollection.Name)]
public sealed class PreprocessingCliTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-pre-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly PreprocessingConfig Steps = new()
    {
        Source = "test: bilinear, shortest edge 36, center crop",
        Resize = new ResizeTarget { ShortestEdge = 36 },
        Resample = ResampleFilter.Bilinear,
        CenterCrop = new CenterCrop(32, 32),
    };

    private string Save(ModelConfig config)
    {
        var path = Path.Combine(dir, "ckpt");
        torch.manual_seed(5);
        using var model = new Captioner(config);
        Checkpoint.Save(model, path);
        return path;
    }

    [Fact]
    public void Inspect_and_caption_use_the_checkpoints_steps()
    {
        var ckpt = Save(Presets.Tiny with { Preprocessing = Steps });
        var (code, output, error) = Run("inspect", "--checkpoint", ckpt);
        Assert.True(code == 0, error);
        Assert.Contains($"preprocessing: {Steps.Source}", output);
        Assert.Contains("  resize to shortest edge 36 with Pillow's bilinear (8-bit result)", output);
        Assert.Contains("  center crop 32 x 32 (offsets floored)", output);

        var picture = Path.Combine(dir, "wide.png");
        using (var image = new Image<Rgb24>(90, 41))
        {
            for (int y = 0; y < 41; y++)
                for (int x = 0; x < 90; x++) image[x, y] = (x / 5 + y / 3) % 2 == 0 ? new Rgb24(250, 250, 20) : new Rgb24((byte)(x * 2), 10, (byte)(y * 6));
            image.SaveAsPng(picture);
        }
        (code, output, error) = Run("caption", "--checkpoint", ckpt, picture, "--max-tokens", "8");
        Assert.True(code == 0, error);
        var pipeline = new CaptionPipeline(Checkpoint.Load(ckpt));
        Assert.Equal(Steps, pipeline.Preprocessor.Transform.Steps);
        Assert.Equal(pipeline.Caption([File.ReadAllBytes(picture)], Presets.Tiny.Decoding with { MaxNewTokens = 8 })[0].Text, output.Trim());
    }

    [Fact]
    public void Inspect_says_when_a_checkpoint_records_no_steps()
    {
        var ckpt = Save(Presets.Tiny with { Preprocessing = null });
        var output = Run("inspect", "--checkpoint", ckpt).Out;
        Assert.Contains("preprocessing: none recorded: ImageSharp bicubic", output);
        Assert.Contains("  resize to 32 x 32 with ImageSharp's bicubic", output);
    }

    [Fact]
    public void Training_keeps_the_starting_checkpoints_transform_and_records_it()
    {
        var synth = Path.Combine(dir, "synth");
        SynthData.Generate(synth, images: 24, seed: 2, imageSize: 48);
        var ckpt = Save(Presets.Tiny with { Preprocessing = Steps });
        var output = Path.Combine(dir, "run");
        var (code, stdout, stderr) = Run("train", "--data", Path.Combine(synth, "captions_train.json"), "--val-data", Path.Combine(synth, "captions_val.json"),
            "--checkpoint", ckpt, "--out", output, "--epochs", "1", "--batch-size", "8", "--device", "cpu");
        Assert.True(code == 0, stderr);
        Assert.Contains($"preprocessing: {Steps.Source}", stdout);
        foreach (var saved in new[] { "best", "last" })
            Assert.Equal(Steps, Checkpoint.ReadConfig(Path.Combine(output, saved)).Preprocessing);
    }
}
