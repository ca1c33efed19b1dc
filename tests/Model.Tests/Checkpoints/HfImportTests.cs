using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

public class HfImportTests
{
    private const int End = 99;
    private static readonly long[,] Tokens = { { End, 5, 17, 42 }, { End, 3, 3, 70 } };

    /// <summary>A tiny nlpconnect look-alike (width 32, 2 layers, 4 heads, 32 px, patch 8, vocab 100);
    /// returns the fp32 tensors before they were stored in <paramref name="dtype"/>.</summary>
    private static Dictionary<string, Tensor> Write(TempDir dir, string file = "model.safetensors", ScalarType? dtype = null,
        bool lmHead = true, JsonNode? size = null, Action<Dictionary<string, Tensor>>? edit = null)
    {
        var tensors = TestFiles.Random(SourceKeys.HfVitGpt2(width: 32, layers: 2, mlp: 64, patch: 8, image: 32, vocab: 100, positions: 16, lmHead: lmHead), seed: 5);
        if (lmHead) tensors["decoder.lm_head.weight"] = tensors["decoder.transformer.wte.weight"].clone();
        edit?.Invoke(tensors);
        TestFiles.Save(dir[file], tensors, dtype);
        TestFiles.Json(dir["config.json"], TestFiles.VisionEncoderDecoderConfig(width: 32, layers: 2, heads: 4, mlp: 64, image: 32, patch: 8,
            vocab: 100, positions: 16, End));
        TestFiles.Json(dir[HfImporter.PreprocessorFileName], TestFiles.Preprocessor(size ?? 32));
        return tensors;
    }

    [Theory]
    [InlineData("model.safetensors", ScalarType.Float32, true)]
    [InlineData("pytorch_model.bin", ScalarType.Float16, false)]
    [InlineData("model.safetensors", ScalarType.BFloat16, true)]
    [InlineData("pytorch_model.bin", ScalarType.BFloat16, true)]
    public void Imports_every_parameter_and_matches_a_reference_forward(string file, ScalarType dtype, bool lmHead)
    {
        using var dir = new TempDir();
        var stored = Write(dir, file, dtype, lmHead).ToDictionary(e => e.Key, e => e.Value.is_floating_point() ? e.Value.to(dtype).to(float32) : e.Value);
        var (model, report) = HfImporter.Import(dir.Path);
        using var _ = model;
        var p = ImportPlan.TensorsOf(model);

        var c = model.Config;
        Assert.Equal((EncoderLayout.HfVit, CrossAttentionMode.Final, 1e-12), (c.EncoderLayout, c.CrossAttention, c.EncoderEps));
        Assert.Equal((32, 2, 4, 64, 32, 8), (c.EncoderWidth, c.EncoderLayers, c.EncoderHeads, c.EncoderMlpWidth, c.ImageSize, c.PatchSize));
        Assert.Equal((100, 16, 32, 2, 4, 128), (c.VocabSize, c.MaxPositions, c.DecoderWidth, c.DecoderLayers, c.DecoderHeads, c.DecoderMlpWidth));
        Assert.Equal((End, End, End), (c.BosTokenId, c.EosTokenId, c.PadTokenId));
        Assert.Equal(ScalarType.Float32, model.DType);

        Assert.Equal(p.Count, report.Copied);
        Assert.Empty(report.NewParameters);
        var ignored = report.Ignored.Select(i => i.Source).ToList();
        Assert.Contains("encoder.pooler.dense.weight", ignored);
        Assert.Contains("decoder.transformer.h.1.crossattention.masked_bias", ignored);
        Assert.True(CheckpointTests.Same(stored["encoder.encoder.layer.1.attention.attention.key.weight"], p["encoder.encoder.layer.1.attention.attention.key.weight"]));
        Assert.True(CheckpointTests.Same(stored["decoder.transformer.h.0.crossattention.c_attn.weight"].t(), p["decoder.transformer.h.0.crossattention.c_attn.weight"]));
        Assert.True(CheckpointTests.Same(stored["decoder.transformer.h.1.crossattention.q_attn.weight"].t(), p["decoder.transformer.h.1.crossattention.q_attn.weight"]));

        using var noGrad = no_grad();
        var pixels = CaptionerTests.Pixels(c, 2, seed: 8);
        var image = Reference.HfVit(n => stored[n], pixels, layers: 2, heads: 4);
        var expected = Reference.Gpt2(n => stored["decoder.transformer." + n], tensor(Tokens), [image], layers: 2, heads: 4);
        var actual = model.forward(pixels, tensor(Tokens));
        Assert.True(expected.allclose(actual, rtol: 1e-4, atol: 1e-5), $"max |diff| {(expected - actual).abs().max().item<float>()}");
    }

    [Fact]
    public void Preprocessor_mean_std_and_a_height_width_size_are_read()
    {
        using var dir = new TempDir();
        Write(dir, size: new JsonObject { ["height"] = 32, ["width"] = 32 });
        TestFiles.Json(dir[HfImporter.PreprocessorFileName], TestFiles.Preprocessor(new JsonObject { ["height"] = 32, ["width"] = 32 }, mean: 0.25f, std: 0.75f));
        var config = HfImporter.ReadConfig(dir.Path);
        Assert.Equal([0.25f, 0.25f, 0.25f], config.ImageMean);
        Assert.Equal([0.75f, 0.75f, 0.75f], config.ImageStd);
    }

    [Fact]
    public void A_preprocessor_size_other_than_the_encoder_image_size_fails_naming_the_file()
    {
        using var dir = new TempDir();
        Write(dir, size: 48);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.ReadConfig(dir.Path));
        Assert.Contains(HfImporter.PreprocessorFileName, e.Message);
        Assert.Contains("size (48) differs from the encoder's image_size (32)", e.Message);
    }

    [Fact]
    public void An_lm_head_that_is_not_wte_fails_naming_both()
    {
        using var dir = new TempDir();
        Write(dir, edit: t => t["decoder.lm_head.weight"] = t["decoder.lm_head.weight"] * 1.5);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.Import(dir.Path));
        Assert.Contains("'decoder.lm_head.weight' differs from 'decoder.transformer.wte.weight'", e.Message);
    }

    [Fact]
    public void Unexpected_names_and_wrong_shapes_are_all_named()
    {
        using var dir = new TempDir();
        Write(dir, edit: t =>
        {
            t["enc_to_dec_proj.weight"] = zeros(32, 32);
            t["encoder.embeddings.position_embeddings"] = zeros(1, 10, 32);
            t["decoder.transformer.h.0.crossattention.c_attn.weight"] = zeros(64, 32); // Linear layout where Conv1D [in, out] is expected
        });
        var e = Assert.Throws<CheckpointMismatchException>(() => HfImporter.Import(dir.Path));
        Assert.Equal(["enc_to_dec_proj.weight"], e.Unexpected);
        Assert.Contains("encoder.embeddings.position_embeddings: checkpoint [1, 10, 32] vs model [1, 17, 32]", e.Message);
        Assert.Contains("decoder.transformer.h.0.crossattention.c_attn.weight: checkpoint [64, 32], transposed [32, 64], vs model [64, 32]", e.Message);
        Assert.Empty(e.Missing);
    }

    [Fact]
    public void A_missing_tensor_is_named()
    {
        using var dir = new TempDir();
        Write(dir, edit: t => t.Remove("decoder.transformer.h.1.ln_cross_attn.bias"));
        var e = Assert.Throws<CheckpointMismatchException>(() => HfImporter.Import(dir.Path));
        Assert.Equal(["decoder.transformer.h.1.ln_cross_attn.bias"], e.Missing); // nothing may stay new here
    }

    [Fact]
    public void Config_problems_name_the_file_and_key()
    {
        using var dir = new TempDir();
        Write(dir);
        var json = JsonNode.Parse(File.ReadAllText(dir["config.json"]))!;
        json["decoder"]!["activation_function"] = "relu";
        TestFiles.Json(dir["config.json"], json);
        var e = Assert.Throws<InvalidDataException>(() => HfImporter.ReadConfig(dir.Path));
        Assert.Contains($"{dir["config.json"]}: decoder.activation_function is 'relu'", e.Message);

        File.WriteAllText(dir["config.json"], "{\n  \"encoder\": {\n    \"hidden_size\": 32,\n  }\n}");
        e = Assert.Throws<InvalidDataException>(() => HfImporter.ReadConfig(dir.Path));
        Assert.Contains($"{dir["config.json"]} (line 4)", e.Message);
    }
}
