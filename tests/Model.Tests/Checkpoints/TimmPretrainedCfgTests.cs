using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;

namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>The preprocessing a timm import records, from the ViT's own pretrained_cfg.</summary>
public class TimmPretrainedCfgTests
{
    private const int End = 99;

    /// <summary>timm's config.json for vit_base_patch16_224.augreg2_in21k_ft_in1k, at 32 px.</summary>
    private static JsonObject TimmConfig(Action<JsonObject>? edit = null)
    {
        var cfg = new JsonObject
        {
            ["tag"] = "augreg2_in21k_ft_in1k",
            ["custom_load"] = false,
            ["input_size"] = new JsonArray(3, 32, 32),
            ["fixed_input_size"] = true,
            ["interpolation"] = "bicubic",
            ["crop_pct"] = 0.9,
            ["crop_mode"] = "center",
            ["mean"] = new JsonArray(0.5, 0.5, 0.5),
            ["std"] = new JsonArray(0.5, 0.5, 0.5),
            ["num_classes"] = 10,
            ["pool_size"] = null,
            ["first_conv"] = "patch_embed.proj",
            ["classifier"] = "head",
        };
        edit?.Invoke(cfg);
        return new JsonObject { ["architecture"] = "vit_base_patch16_224", ["num_classes"] = 10, ["num_features"] = 32, ["global_pool"] = "token", ["pretrained_cfg"] = cfg };
    }

    private static ImportResult Import(TempDir dir, JsonObject? vitConfig, TimmTransform transform = TimmTransform.Seed)
    {
        var vit = TestFiles.Random(SourceKeys.TimmVit(width: 32, layers: 2, mlp: 64, patch: 8, image: 32, classes: 10), seed: 1);
        var gpt = TestFiles.Random(SourceKeys.Gpt2(vocab: 100, positions: 16, width: 32, layers: 2, mlp: 128, "", maskBuffers: false), seed: 2);
        TestFiles.Save(dir["vit/model.safetensors"], vit);
        TestFiles.Save(dir["gpt2/model.safetensors"], gpt);
        foreach (var t in vit.Values.Concat(gpt.Values)) t.Dispose();
        TestFiles.Json(dir["gpt2/config.json"], TestFiles.Gpt2Config(vocab: 100, positions: 16, width: 32, layers: 2, heads: 4, End));
        if (vitConfig is not null) TestFiles.Json(dir["vit/config.json"], vitConfig);
        return TimmImporter.Import(Path.Combine(dir.Path, "vit"), Path.Combine(dir.Path, "gpt2"), Presets.VitB16Gpt2 with { EncoderHeads = 4 }, transform);
    }

    [Fact]
    public void By_default_the_seeds_transform_with_the_vits_interpolation_mean_and_std()
    {
        using var dir = new TempDir();
        var (model, report) = Import(dir, TimmConfig(c => { c["interpolation"] = "bilinear"; c["mean"] = new JsonArray(0.1, 0.2, 0.3); }));
        using var _ = model;
        var steps = model.Config.Preprocessing!;
        Assert.Equal((null, ResampleFilter.Bilinear, null), (steps.Resize, steps.Resample, steps.CenterCrop)); // resize to 32 x 32, no crop
        Assert.Equal([0.1f, 0.2f, 0.3f], model.Config.ImageMean);
        Assert.StartsWith("seed: resize to the input size (bilinear", steps.Source);
        Assert.Contains(report.Notes, n => n.Contains("the seed's transform (resize to 32 x 32, bilinear, no crop; the ViT's own eval transform is bilinear, crop_pct 0.9, crop_mode center)"));
    }

    [Theory]
    [InlineData("center", 0.9, 35, true)]    // floor(32 / 0.9) = 35, shortest edge
    [InlineData("squash", 0.875, 36, false)] // floor(32 / 0.875) = 36, both edges
    [InlineData("center", 1.0, 32, true)]
    public void Told_otherwise_the_vits_eval_transform_with_torchvisions_crop(string mode, double pct, int scaled, bool shortestEdge)
    {
        using var dir = new TempDir();
        var (model, _) = Import(dir, TimmConfig(c => { c["crop_mode"] = mode; c["crop_pct"] = pct; }), TimmTransform.Timm);
        using var _model = model;
        var steps = model.Config.Preprocessing!;
        Assert.Equal(shortestEdge ? new ResizeTarget { ShortestEdge = scaled } : ResizeTarget.Square(scaled), steps.Resize);
        Assert.Equal(new CenterCrop(32, 32) { Rounding = CropRounding.HalfEven }, steps.CenterCrop);
        Assert.Equal(ResampleFilter.Bicubic, steps.Resample);
    }

    [Fact]
    public void Without_a_pretrained_cfg_the_seed_transform_is_assumed_and_said_and_timm_is_refused()
    {
        using var dir = new TempDir();
        var (model, report) = Import(dir, vitConfig: null);
        using (model)
        {
            Assert.Equal(Presets.VitB16Gpt2.Preprocessing, model.Config.Preprocessing);
            Assert.Contains(report.Notes, n => n.StartsWith("no config.json beside the ViT weights: the seed's transform assumed"));
        }
        using var dir2 = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => Import(dir2, vitConfig: null, TimmTransform.Timm));
        Assert.Contains("no pretrained_cfg", e.Message);
    }

    [Theory]
    [InlineData("interpolation", "\"random\"", "pretrained_cfg.interpolation is 'random'; supported: nearest, bilinear, bicubic, box, hamming, lanczos")]
    [InlineData("crop_mode", "\"border\"", "pretrained_cfg.crop_mode is 'border'; supported: center, squash (border pads")]
    [InlineData("crop_pct", "1.2", "pretrained_cfg.crop_pct must be in (0, 1] (got 1.2)")]
    [InlineData("input_size", "[3, 224, 224]", "pretrained_cfg.input_size is [3,224,224]; the weights' pos_embed is for [3, 32, 32]")]
    [InlineData("mean", "[0.5, 0.5]", "pretrained_cfg.mean must have 3 values (got 2)")]
    public void Unknown_values_are_refused_by_name(string key, string value, string message)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => Import(dir, TimmConfig(c => c[key] = JsonNode.Parse(value))));
        Assert.Contains(Path.Combine(dir.Path, "vit", "config.json"), e.Message);
        Assert.Contains(message, e.Message);
    }
}
