using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using CaptionService.Model.Tests.Checkpoints;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Model.Tests.Imaging;

public class PreprocessingConfigTests
{
    private static Image<Rgb24> Picture(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = (x / 7 + y / 5) % 3 == 0 ? new Rgb24((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256))
                    : new Rgb24((byte)(x * 255 / width), 40, (byte)(255 - y * 255 / height));
        return image;
    }

    // ---------------- Old checkpoints keep their behaviour ----------------

    /// <summary>The config.json of the first demo checkpoint (the tiny preset), written before checkpoints recorded their preprocessing.</summary>
    private const string OldDemoConfig = @"
        {
          ""encoder_layout"": ""timm"",
          ""image_size"": 32,
          ""patch_size"": 8,
          ""num_channels"": 3,
          ""encoder_layers"": 2,
          ""encoder_width"": 64,
          ""encoder_heads"": 4,
          ""encoder_mlp_width"": 256,
          ""encoder_layer_norm_eps"": null,
          ""vocab_size"": 50257,
          ""max_positions"": 64,
          ""decoder_layers"": 2,
          ""decoder_width"": 64,
          ""decoder_heads"": 4,
          ""decoder_mlp_width"": 256,
          ""decoder_layer_norm_eps"": 1E-05,
          ""cross_attention"": ""interleaved"",
          ""embedding_dropout"": 0.1,
          ""attention_dropout"": 0.1,
          ""residual_dropout"": 0.1,
          ""mlp_dropout"": 0.1,
          ""image_mean"": [
            0.5,
            0.5,
            0.5
          ],
          ""image_std"": [
            0.5,
            0.5,
            0.5
          ],
          ""tokenizer"": ""gpt2"",
          ""bos_token_id"": 50256,
          ""eos_token_id"": 50256,
          ""pad_token_id"": 50256,
          ""decoding"": {
            ""strategy"": ""greedy"",
            ""max_new_tokens"": 20,
            ""temperature"": 1,
            ""top_k"": 0,
            ""top_p"": 1,
            ""num_beams"": 3,
            ""length_penalty"": 1,
            ""no_repeat_ngram_size"": 0,
            ""seed"": null,
            ""stop_at_eos"": true
          }
        }
        ";

    [Fact]
    public void A_checkpoint_written_before_the_section_existed_gets_the_legacy_ImageSharp_bicubic()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], OldDemoConfig);
        var config = Checkpoint.ReadConfig(dir.Path);
        Assert.Null(config.Preprocessing);
        Assert.Same(PreprocessingConfig.Legacy, config.EffectivePreprocessing);
        Assert.Equal(ResampleFilter.ImageSharpBicubic, config.EffectivePreprocessing.Resample);
        Assert.Contains("\"preprocessing\": null", config.ToJson()); // written back as it was read
    }

    /// <summary>The code path before checkpoints recorded their preprocessing, verbatim.</summary>
    private static float[] OldToChw(Image<Rgb24> image, int s, float[] mean, float[] std)
    {
        using var sized = image.Width == s && image.Height == s ? image.Clone() : image.Clone(x => x.Resize(s, s, KnownResamplers.Bicubic));
        var chw = new float[3 * s * s];
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
            {
                var p = sized[x, y];
                chw[y * s + x] = (p.R / 255f - mean[0]) / std[0];
                chw[s * s + y * s + x] = (p.G / 255f - mean[1]) / std[1];
                chw[2 * s * s + y * s + x] = (p.B / 255f - mean[2]) / std[2];
            }
        return chw;
    }

    [Theory]
    [InlineData(150, 97)]
    [InlineData(32, 32)]
    [InlineData(7, 300)]
    public void Without_a_section_the_pixels_are_bit_for_bit_the_old_ones(int width, int height)
    {
        var config = Presets.Tiny with { Preprocessing = null, ImageMean = [0.485f, 0.456f, 0.406f], ImageStd = [0.229f, 0.224f, 0.225f] };
        using var image = Picture(width, height, seed: width);
        Assert.Equal(OldToChw(image, 32, config.ImageMean, config.ImageStd), new ImagePreprocessor(config).ToChw(image));
    }

    [Fact]
    public void The_presets_record_the_seeds_transform_and_the_HF_default()
    {
        Assert.Equal((null, ResampleFilter.Bicubic, null), (Presets.Tiny.Preprocessing!.Resize, Presets.Tiny.Preprocessing.Resample, Presets.Tiny.Preprocessing.CenterCrop));
        Assert.Equal(ResampleFilter.Bicubic, Presets.VitB16Gpt2.Preprocessing!.Resample);
        Assert.Equal(ResampleFilter.Bilinear, Presets.HfVitGpt2.Preprocessing!.Resample);
        using var image = Picture(150, 97, 1);
        // Pillow's bicubic, not ImageSharp's: the two differ on this picture.
        Assert.NotEqual(new ImagePreprocessor(Presets.Tiny with { Preprocessing = null }).ToChw(image), new ImagePreprocessor(Presets.Tiny).ToChw(image));
    }

    // ---------------- The section in config.json ----------------

    [Fact]
    public void A_section_round_trips_through_config_json_with_readable_names()
    {
        var config = Presets.Tiny with
        {
            Preprocessing = new PreprocessingConfig
            {
                Source = "test",
                Resize = new ResizeTarget { ShortestEdge = 36 },
                Resample = ResampleFilter.Lanczos,
                CenterCrop = new CenterCrop(32, 32) { Rounding = CropRounding.HalfEven },
                RescaleFactor = 1.0,
            },
        };
        var json = config.ToJson();
        Assert.Contains("\"shortest_edge\": 36", json);
        Assert.DoesNotContain("\"height\": null", json);
        Assert.Contains("\"resample\": \"lanczos\"", json);
        Assert.Contains("\"rounding\": \"half-even\"", json);
        var back = ModelConfig.FromJson(json);
        Assert.Equal(config.Preprocessing, back.Preprocessing);
        Assert.Contains("\"resample\": \"imagesharp-bicubic\"", (Presets.Tiny with { Preprocessing = PreprocessingConfig.Legacy }).ToJson());
    }

    [Theory]
    [InlineData("{\"shortest_edge\": 40}", null, "keeps the aspect ratio: it needs a center_crop")]
    [InlineData("{\"height\": 40, \"width\": 40}", null, "must be image_size x image_size (32 x 32) when there is no center_crop")]
    [InlineData("{\"height\": 40, \"width\": 40}", "{\"height\": 30, \"width\": 30}", "center_crop (30 x 30) must be image_size x image_size")]
    [InlineData("{\"height\": 30, \"width\": 30}", "{\"height\": 32, \"width\": 32}", "is larger than the resized image (30 x 30)")]
    [InlineData("{\"height\": 40, \"shortest_edge\": 40}", null, "needs height and width, or shortest_edge alone")]
    [InlineData("{\"height\": 0, \"width\": 32}", null, "height and width must both be positive")]
    public void Inconsistent_steps_are_refused_naming_the_field_and_line(string resize, string? crop, string message)
    {
        using var dir = new TempDir();
        var json = (Presets.Tiny with { Preprocessing = null }).ToJson().Replace("\"preprocessing\": null",
            $"\"preprocessing\": {{\n \"resize\": {resize},\n \"resample\": \"bilinear\",\n \"center_crop\": {crop ?? "null"}\n}}");
        File.WriteAllText(dir["config.json"], json);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(dir.Path));
        Assert.Contains("preprocessing.", e.Message);
        Assert.Contains(message, e.Message);
        Assert.Contains(", line ", e.Message);
    }

    [Theory]
    [InlineData("\"resample\": 9", "resample (9) is not a known filter")]
    [InlineData("\"resample\": \"sinc\"", "$.preprocessing.resample")]
    [InlineData("\"rescale_factor\": 0", "rescale_factor must be a positive number")]
    [InlineData("\"reducing_gap\": 2", "reducing_gap")]
    [InlineData("\"resample\": \"imagesharp-bicubic\", \"center_crop\": {\"height\": 32, \"width\": 32}", "cannot be combined with a center_crop")]
    public void Unknown_values_and_keys_are_refused_by_name(string fields, string message)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], (Presets.Tiny with { Preprocessing = null }).ToJson().Replace("\"preprocessing\": null", $"\"preprocessing\": {{ {fields} }}"));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(dir.Path));
        Assert.Contains(message, e.Message);
    }

    // ---------------- Only the crop window is ever computed ----------------

    [Theory]
    [InlineData(ResampleFilter.Nearest)]
    [InlineData(ResampleFilter.Bilinear)]
    [InlineData(ResampleFilter.Lanczos)]
    public void A_window_is_the_same_pixels_as_resizing_then_cropping(ResampleFilter filter)
    {
        using var image = Picture(53, 29, seed: 3);
        var rng = new Random(4);
        foreach (var (w, h) in new[] { (40, 90), (21, 13), (53, 70), (80, 29) })
        {
            using var whole = Resampler.Resize(image, w, h, filter);
            for (int i = 0; i < 5; i++)
            {
                int left = rng.Next(w), top = rng.Next(h);
                var window = new Rectangle(left, top, 1 + rng.Next(w - left), 1 + rng.Next(h - top));
                using var part = Resampler.Resize(image, w, h, filter, window);
                using var cropped = whole.Clone(x => x.Crop(window));
                Assert.Equal(0, PillowParityTests.Difference.Of(part, cropped).Different);
            }
        }
    }

    [Fact]
    public void A_thin_image_under_a_shortest_edge_resize_costs_no_more_than_its_crop()
    {
        // 6000 x 2: the shortest edge to 224 would make a 672000 x 224 image (450 MB); only the 224 x 224 crop is made.
        var config = Presets.Tiny with
        {
            ImageSize = 224,
            Preprocessing = new PreprocessingConfig { Resize = new ResizeTarget { ShortestEdge = 224 }, CenterCrop = new CenterCrop(224, 224) },
        };
        using var image = Picture(6000, 2, seed: 5);
        var transform = new ImageTransform(config);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var chw = transform.ToChw(image);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(3 * 224 * 224, chw.Length);
        Assert.True(allocated < 16L << 20, $"{allocated:N0} bytes allocated");
    }
}
