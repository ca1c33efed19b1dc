using CaptionService.Model.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

public class CheckpointTests
{
    /// <summary>Presets.Tiny with a 100-token vocabulary (special ids below it) and a chosen width.</summary>
    internal static ModelConfig TinyConfig(int width = 32) => Presets.Tiny with
    {
        VocabSize = 100,
        BosTokenId = 99,
        EosTokenId = 99,
        PadTokenId = 99,
        EncoderWidth = width,
        EncoderMlpWidth = 2 * width,
        DecoderWidth = width,
        DecoderMlpWidth = 4 * width,
        MaxPositions = 16,
    };

    private static readonly long[,] Tokens = { { 99, 5, 17, 42 }, { 99, 3, 3, 70 } };

    internal static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.equal(b).all().item<bool>();

    private static Tensor Logits(Captioner model, int seed = 1)
    {
        using var noGrad = no_grad();
        return model.forward(CaptionerTests.Pixels(model.Config, 2, seed), tensor(Tokens));
    }

    [Theory]
    [InlineData(EncoderLayout.Timm, CrossAttentionMode.Interleaved)]
    [InlineData(EncoderLayout.HfVit, CrossAttentionMode.Final)]
    public void Round_trip_keeps_config_parameters_and_logits(EncoderLayout layout, CrossAttentionMode mode)
    {
        using var dir = new TempDir();
        using var model = CaptionerTests.Tiny(TinyConfig() with { EncoderLayout = layout, CrossAttention = mode }, seed: 3);
        Checkpoint.Save(model, dir.Path);
        using var loaded = Checkpoint.Load(dir.Path);

        Assert.Equal(model.Config.ToJson(), loaded.Config.ToJson());
        Assert.False(loaded.training);
        var expected = ImportPlan.TensorsOf(model);
        var actual = ImportPlan.TensorsOf(loaded);
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, p) in expected)
            Assert.True(Same(p, actual[name]), $"{name} differs after the round trip");
        Assert.True(Same(Logits(model), Logits(loaded)));
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors.tmp")));
        // One entry per parameter, under its explicitly registered name (see ImportPlan.TensorsOf).
        Assert.Equal(model.named_parameters().Select(p => p.name).Order(), WeightSource.ReadShapes(Path.Combine(dir.Path, "model.safetensors")).Keys.Order());
    }

    [Fact]
    public void A_bf16_checkpoint_loads_into_fp32_and_into_bf16()
    {
        using var dir = new TempDir();
        using var model = CaptionerTests.Tiny(TinyConfig(), seed: 4);
        model.to(ScalarType.BFloat16);
        Checkpoint.Save(model, dir.Path);

        using var fp32 = Checkpoint.Load(dir.Path);
        using var bf16 = Checkpoint.Load(dir.Path, dtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.Float32, fp32.DType);
        Assert.Equal(ScalarType.BFloat16, bf16.DType);
        var wte = ImportPlan.TensorsOf(model)["decoder.transformer.wte.weight"];
        Assert.True(Same(wte.to(float32), ImportPlan.TensorsOf(fp32)["decoder.transformer.wte.weight"]));
        Assert.True(Same(wte, ImportPlan.TensorsOf(bf16)["decoder.transformer.wte.weight"]));
    }

    [Fact]
    public void Loading_into_another_width_lists_every_name_and_both_shapes()
    {
        using var dir = new TempDir();
        using (var model = CaptionerTests.Tiny(TinyConfig(32)))
            Checkpoint.Save(model, dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), TinyConfig(64).ToJson());

        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.Load(dir.Path));
        Assert.Contains("decoder.transformer.wte.weight: checkpoint [100, 32] vs model [100, 64]", e.ShapeMismatches.Select(s => s.ToString()));
        Assert.Contains("shape mismatches:\n  encoder.cls_token: checkpoint [1, 1, 32] vs model [1, 1, 64]", e.Message); // model order
        Assert.Empty(e.Missing);
        Assert.Empty(e.Unexpected);
        Assert.Equal(ImportPlan.ShapesOf(CaptionerTests.Tiny(TinyConfig(64))).Count, e.ShapeMismatches.Count); // every tensor has the width in it
        Assert.Contains("... and", e.Message); // capped, with a count
        Assert.Contains($"{e.ShapeMismatches.Count} with another shape", e.Message);
    }

    [Fact]
    public void Missing_and_unexpected_names_are_all_listed()
    {
        using var dir = new TempDir();
        using (var model = CaptionerTests.Tiny(TinyConfig()))
            Checkpoint.Save(model, dir.Path);
        var weights = Path.Combine(dir.Path, "model.safetensors");
        var tensors = Safetensors.LoadStateDict(weights);
        tensors.Remove("decoder.transformer.ln_f.bias");
        tensors.Remove("encoder.blocks.1.attn.qkv.weight");
        tensors["decoder.lm_head.weight"] = zeros(100, 32);
        TestFiles.Save(weights, tensors);

        var e = Assert.Throws<CheckpointMismatchException>(() => Checkpoint.Load(dir.Path));
        Assert.Equal(["encoder.blocks.1.attn.qkv.weight", "decoder.transformer.ln_f.bias"], e.Missing);
        Assert.Equal(["decoder.lm_head.weight"], e.Unexpected);
        Assert.Contains("missing from the checkpoint:\n  encoder.blocks.1.attn.qkv.weight\n  decoder.transformer.ln_f.bias", e.Message);
        Assert.Contains("unexpected in the checkpoint:\n  decoder.lm_head.weight", e.Message);
    }

    [Fact]
    public void Missing_files_name_their_path()
    {
        using var dir = new TempDir();
        var nowhere = Path.Combine(dir.Path, "nowhere");
        Assert.Contains(nowhere, Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(nowhere)).Message);

        var config = Path.Combine(dir.Path, "config.json");
        Assert.Contains(config, Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(dir.Path)).Message);

        File.WriteAllText(config, TinyConfig().ToJson());
        var weights = Path.Combine(dir.Path, "model.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(dir.Path));
        Assert.Contains(weights, e.Message);
        Assert.Equal(weights, e.FileName);
    }

    [Fact]
    public void Config_errors_name_the_file_line_and_field()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "config.json");
        var json = TinyConfig().ToJson()
            .Replace("\"decoder_heads\": 4", "\"decoder_heads\": 5")
            .Replace("\"eos_token_id\": 99", "\"eos_token_id\": 100");
        File.WriteAllText(path, json);
        int Line(string key) => json.Split('\n').ToList().FindIndex(l => l.Contains($"\"{key}\"")) + 1;

        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(dir.Path));
        Assert.Contains($"{path}, line {Line("decoder_width")}: decoder_width (32) must be divisible by decoder_heads (5)", e.Message);
        Assert.Contains($"{path}, line {Line("eos_token_id")}: eos_token_id (100) must be below vocab_size (100)", e.Message);

        File.WriteAllText(path, "{\n  \"image_size\": 32,\n  \"patch_size\": \"eight\"\n}");
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(dir.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("patch_size", e.Message);
    }
}
