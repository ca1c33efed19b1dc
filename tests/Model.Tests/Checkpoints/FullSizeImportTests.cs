using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;

namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>
/// The parameter shapes of the full-size presets, each built once per test run (a full Captioner
/// is about 1 GB) and released right away: only the name -> shape table is kept.
/// </summary>
public sealed class FullSizeShapes
{
    private readonly Dictionary<string, Dictionary<string, long[]>> byConfig = [];

    public Dictionary<string, long[]> Of(ModelConfig preset)
    {
        lock (byConfig)
        {
            var key = preset.ToJson();
            if (!byConfig.TryGetValue(key, out var shapes))
            {
                using (var model = new Captioner(preset)) shapes = ImportPlan.ShapesOf(model);
                byConfig[key] = shapes;
                GC.Collect();
            }
            return shapes;
        }
    }
}

/// <summary>The real checkpoints' key/shape lists against the full-size presets, without any weights.</summary>
public class FullSizeImportTests(FullSizeShapes models) : IClassFixture<FullSizeShapes>
{
    private static long Elements(IEnumerable<string> names, IReadOnlyDictionary<string, long[]> shapes) =>
        names.Sum(n => shapes[n].Aggregate(1L, (a, b) => a * b));

    [Fact]
    public void Timm_vit_b16_and_gpt2_fill_the_seed_preset()
    {
        var vit = SourceKeys.TimmVit();
        var gpt2 = SourceKeys.Gpt2(maskBuffers: true);
        Assert.Equal([2304, 768], vit["blocks.0.attn.qkv.weight"]);
        Assert.Equal([768, 2304], gpt2["h.0.attn.c_attn.weight"]);

        using var dir = new TempDir();
        TestFiles.Json(dir["gpt2/config.json"], TestFiles.Gpt2Config(vocab: 50257, positions: 1024, width: 768, layers: 12, heads: 12, endToken: 50256));
        var config = TimmImporter.ConfigFor(vit, gpt2, Presets.VitB16Gpt2, dir["gpt2/config.json"]);
        Assert.Equal(Presets.VitB16Gpt2.ToJson(), config.ToJson());

        var model = models.Of(Presets.VitB16Gpt2);
        var plan = TimmImporter.Plan(vit, gpt2, config, model);
        // The design's counts: ViT-B/16 without its final norm, GPT-2 small, and the new cross-attention.
        Assert.Equal(85_797_120 + 124_439_808, Elements(plan.Loads.Select(l => l.Target), model));
        Assert.Equal(28_366_848, Elements(plan.NewParameters, model));
        Assert.Equal(12 * 4, plan.Loads.Count(l => l.Kind == MappingKind.Transpose)); // c_attn, c_proj, c_fc, mlp.c_proj
        Assert.Equal(["vit: head.bias", "vit: head.weight", "vit: norm.bias", "vit: norm.weight"],
            plan.Ignored.Select(i => i.Source).Where(s => s.StartsWith("vit")));
        Assert.Equal(24, plan.Ignored.Count(i => i.Source.StartsWith("gpt2")));
    }

    [Fact]
    public void Nlpconnect_vit_gpt2_fills_the_hf_preset()
    {
        using var dir = new TempDir();
        TestFiles.Json(dir["config.json"], TestFiles.VisionEncoderDecoderConfig(width: 768, layers: 12, heads: 12, mlp: 3072, image: 224,
            patch: 16, vocab: 50257, positions: 1024, endToken: 50256));
        TestFiles.Json(dir[HfImporter.PreprocessorFileName], TestFiles.Preprocessor(JsonValue.Create(224)));
        var config = HfImporter.ReadConfig(dir.Path);
        // No generation settings in the file: transformers' defaults (max_length 20 counts the start token; top_k 50).
        var decoding = new DecodingOptions { MaxNewTokens = 19, TopK = 50 };
        Assert.Equal((Presets.HfVitGpt2 with { EncoderLayerNormEps = 1e-12, Decoding = decoding, Preprocessing = config.Preprocessing }).ToJson(), config.ToJson());
        var steps = config.Preprocessing!; // nlpconnect's processor: 224 x 224, Pillow's bilinear, no crop, 1/255
        Assert.Equal((ResizeTarget.Square(224), ResampleFilter.Bilinear, null, 1 / 255.0), (steps.Resize, steps.Resample, steps.CenterCrop, steps.RescaleFactor));

        var source = SourceKeys.HfVitGpt2();
        var model = models.Of(Presets.HfVitGpt2);
        var plan = HfImporter.Plan(source, model);
        Assert.Equal(85_798_656 + 124_439_808 + 28_366_848, Elements(plan.Loads.Select(l => l.Target), model));
        Assert.Empty(plan.NewParameters);
        Assert.Equal(12 * 7, plan.Loads.Count(l => l.Kind == MappingKind.Transpose)); // + q_attn, crossattention c_attn and c_proj
        Assert.Equal([new PlannedTensor(0, "decoder.lm_head.weight", MappingKind.Tied, "decoder.transformer.wte.weight")], plan.Ties);
        Assert.Equal(2 + 12 * 4, plan.Ignored.Count); // pooler + mask buffers of attn and crossattention
    }
}
