using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using CaptionService.Model.Tests.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>preprocessor_config.json -> the checkpoint's preprocessing, and captions from Pillow's pixels.</summary>
public class HfPreprocessorTests
{
    private const int End = 99;

    /// <summary>A tiny nlpconnect look-alike (width 32, 2 layers, 32 px, patch 8, vocab 100) with the given processor config.</summary>
    private static void Write(TempDir dir, JsonObject? preprocessor, int seed = 5)
    {
        var tensors = TestFiles.Random(SourceKeys.HfVitGpt2(width: 32, layers: 2, mlp: 64, patch: 8, image: 32, vocab: 100, positions: 32, lmHead: false), seed);
        TestFiles.Save(dir["model.safetensors"], tensors);
        foreach (var t in tensors.Values) t.Dispose();
        TestFiles.Json(dir["config.json"], TestFiles.VisionEncoderDecoderConfig(width: 32, layers: 2, heads: 4, mlp: 64, image: 32, patch: 8,
            vocab: 100, positions: 32, End));
        if (preprocessor is not null) TestFiles.Json(dir[HfImporter.PreprocessorFileName], preprocessor);
    }

    private static ModelConfig Read(JsonObject? preprocessor)
    {
        using var dir = new TempDir();
        Write(dir, preprocessor);
        return HfImporter.ReadConfig(dir.Path);
    }

    private static JsonObject Processor(string type, params (string Key, JsonNode? Value)[] fields)
    {
        var json = new JsonObject { ["image_processor_type"] = type };
        foreach (var (key, value) in fields) json[key] = value;
        return json;
    }

    // ---------------- What is read ----------------

    [Fact]
    public void Nlpconnects_processor_is_a_bilinear_resize_to_the_image_size_without_crop()
    {
        var config = Read(TestFiles.Preprocessor(32)); // ViTFeatureExtractor, "resample": 2, "size": 32
        var steps = config.Preprocessing!;
        Assert.Equal("preprocessor_config.json: ViTFeatureExtractor", steps.Source);
        Assert.Equal((ResizeTarget.Square(32), ResampleFilter.Bilinear, null, 1 / 255.0, false),
            (steps.Resize, steps.Resample, steps.CenterCrop, steps.RescaleFactor, steps.ConvertRgb));
        Assert.Equal([0.5f, 0.5f, 0.5f], config.ImageMean);

        // Written into the checkpoint and read back the same.
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], config.ToJson());
        Assert.Equal(steps, ModelConfig.FromJson(File.ReadAllText(dir["config.json"])).Preprocessing);
    }

    [Fact]
    public void Each_processor_types_own_defaults_fill_what_its_config_leaves_out()
    {
        // DeiT: 256 x 256 bicubic, then a 224 crop; here at 32 px: size 40, crop 32.
        var deit = Read(Processor("DeiTImageProcessor", ("size", new JsonObject { ["height"] = 40, ["width"] = 40 }), ("crop_size", 32))).Preprocessing!;
        Assert.Equal((ResizeTarget.Square(40), ResampleFilter.Bicubic, new CenterCrop(32, 32)), (deit.Resize, deit.Resample, deit.CenterCrop));

        // CLIP: an int size is the shortest edge; convert_rgb on; OpenAI's mean and std.
        var clip = Read(Processor("CLIPImageProcessor", ("size", 36), ("crop_size", new JsonObject { ["height"] = 32, ["width"] = 32 })));
        Assert.Equal((new ResizeTarget { ShortestEdge = 36 }, ResampleFilter.Bicubic, new CenterCrop(32, 32), true),
            (clip.Preprocessing!.Resize, clip.Preprocessing.Resample, clip.Preprocessing.CenterCrop, clip.Preprocessing.ConvertRgb));
        Assert.Equal([0.48145466f, 0.4578275f, 0.40821073f], clip.ImageMean);

        // A ViT processor has no crop step: crop keys mean nothing to it (transformers ignores them too).
        var vit = Read(Processor("ViTImageProcessor", ("size", 32), ("do_center_crop", true), ("crop_size", 16), ("resample", 5))).Preprocessing!;
        Assert.Equal((null, ResampleFilter.Hamming), (vit.CenterCrop, vit.Resample));
    }

    [Fact]
    public void Switched_off_steps_become_neutral_values()
    {
        var config = Read(Processor("ViTImageProcessor", ("size", 32), ("do_normalize", false), ("do_rescale", false), ("image_mean", 0.3)));
        Assert.Equal([0f, 0f, 0f], config.ImageMean);
        Assert.Equal([1f, 1f, 1f], config.ImageStd);
        Assert.Equal(1.0, config.Preprocessing!.RescaleFactor);
        var one = Read(Processor("ViTImageProcessor", ("size", 32), ("image_mean", 0.25), ("rescale_factor", 0.5)));
        Assert.Equal([0.25f, 0.25f, 0.25f], one.ImageMean);
        Assert.Equal(0.5, one.Preprocessing!.RescaleFactor);
    }

    [Fact]
    public void Without_a_processor_file_the_ViT_defaults_are_assumed_and_said()
    {
        using var dir = new TempDir();
        Write(dir, preprocessor: null);
        var (model, report) = HfImporter.Import(dir.Path);
        using var _ = model;
        Assert.Equal(ResampleFilter.Bilinear, model.Config.Preprocessing!.Resample);
        Assert.Contains(report.Notes, n => n.Contains("preprocessor_config.json absent: ViTImageProcessor's defaults assumed"));
    }

    // ---------------- What is refused ----------------

    [Theory]
    [InlineData("ConvNextImageProcessor", "", "image_processor_type is 'ConvNextImageProcessor', which is not supported; supported: ViTImageProcessor")]
    [InlineData("ViTImageProcessor", "\"resample\": 6", "resample is 6; Pillow's codes are 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming")]
    [InlineData("ViTImageProcessor", "\"resample\": \"bilinear\"", "resample is \"bilinear\"; Pillow's codes")]
    [InlineData("ViTImageProcessor", "\"do_resize\": false", "do_resize is false")]
    [InlineData("ViTImageProcessor", "\"size\": {\"shortest_edge\": 32}", "size is {shortest_edge}, which this processor type does not take")]
    [InlineData("CLIPImageProcessor", "\"size\": {\"longest_edge\": 32}", "size has keys {longest_edge}; supported: an integer, {height, width} or {shortest_edge}")]
    [InlineData("ViTImageProcessor", "\"size\": {\"height\": 32, \"width\": 40}", "size is 32x40; the encoder takes 32 x 32 images")]
    [InlineData("DeiTImageProcessor", "\"size\": 40, \"crop_size\": 24", "crop_size (24x24) differs from the encoder's image_size (32)")]
    [InlineData("DeiTImageProcessor", "\"size\": 30, \"crop_size\": 32", "center_crop (32 x 32) is larger than the resized image (30 x 30)")]
    [InlineData("CLIPImageProcessor", "\"size\": 40, \"do_center_crop\": false", "keeps the aspect ratio: it needs a center_crop")]
    [InlineData("ViTImageProcessor", "\"size\": 32, \"image_std\": [0.5, 0.5]", "image_std must have 3 values (got 2)")]
    [InlineData("ViTImageProcessor", "\"size\": 32, \"rescale_factor\": -1", "rescale_factor must be a positive number")]
    public void Unknown_types_and_values_are_refused_by_name(string type, string fields, string message)
    {
        using var dir = new TempDir();
        Write(dir, null);
        File.WriteAllText(dir[HfImporter.PreprocessorFileName], $"{{\"image_processor_type\": \"{type}\"{(fields == "" ? "" : ", " + fields)}}}");
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.ReadConfig(dir.Path));
        Assert.Contains(HfImporter.PreprocessorFileName, e.Message);
        Assert.Contains(message, e.Message);
    }

    // ---------------- End to end: the caption Pillow's pixels give ----------------

    /// <summary>transformers' rescale and normalize on 8-bit pixels, written out here: float32(v * (1/255 in float64)),
    /// then (x - mean) / std in float32; NCHW.</summary>
    private static Tensor HfPixelValues(Image<Rgb24> image, float mean, float std)
    {
        int s = image.Width;
        var values = new float[3 * s * s];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
            {
                var p = image[x, y];
                byte[] rgb = [p.R, p.G, p.B];
                for (int c = 0; c < 3; c++) values[c * s * s + y * s + x] = ((float)(rgb[c] * (1 / 255.0)) - mean) / std;
            }
        return tensor(values, new long[] { 1, 3, s, s });
    }

    [Fact]
    public void A_bilinear_checkpoint_captions_a_non_square_image_as_Pillows_pixels_do()
    {
        using var dir = new TempDir();
        Write(dir, TestFiles.Preprocessor(32), seed: 11); // "resample": 2 (bilinear), "size": 32
        var (model, _) = HfImporter.Import(dir.Path);
        using var _model = model;
        var pipeline = new CaptionPipeline(model);
        var options = new DecodingOptions { MaxNewTokens = 12, StopAtEos = false };

        // Ours: the 150 x 97 picture's bytes through the pipeline (decode, Pillow-exact bilinear to 32 x 32, normalize).
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Imaging", "fixtures", "src-edges.png"));
        var ours = pipeline.Caption([bytes], options)[0];

        // The same math on the pixels Pillow itself resized (fixtures/out-edges-bilinear-32x32.png).
        using var scope = NewDisposeScope();
        using var pillow = PillowParityTests.Load("out-edges-bilinear-32x32.png");
        var reference = HfPixelValues(pillow, 0.5f, 0.5f);
        var expected = pipeline.Generator.Generate(reference, options)[0];
        Assert.Equal(expected.Tokens, ours.Tokens);

        // Not by luck: the network's input is identical to the last bit, where the old resize was far off.
        var input = tensor(pipeline.Preprocessor.ToChw(bytes), new long[] { 1, 3, 32, 32 });
        Assert.True(input.equal(reference).all().item<bool>());
        using var decoded = Image.Load<Rgb24>(bytes);
        using var old = decoded.Clone(x => x.Resize(32, 32, KnownResamplers.Bicubic));
        var oldInput = HfPixelValues(old, 0.5f, 0.5f);
        double oldGreyLevels = (oldInput - reference).abs().max().item<float>() * 127.5;
        Assert.True(oldGreyLevels > 10, $"the old bicubic differed by {oldGreyLevels} grey levels only");

        // And the first step's logits show it: ours equal the reference's exactly, the old pixels' do not.
        using var noGrad = no_grad();
        var start = tensor(new long[,] { { End } });
        var logits = model.forward(reference, start);
        Assert.True(model.forward(input, start).equal(logits).all().item<bool>());
        var oldDiff = (model.forward(oldInput, start) - logits).abs().max().item<float>();
        Assert.True(oldDiff > 1e-4, $"old logits differ by {oldDiff}");
    }
}
