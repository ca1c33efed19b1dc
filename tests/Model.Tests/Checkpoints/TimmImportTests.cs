using CaptionService.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

public class TimmImportTests
{
    private const int End = 99; // the tiny GPT-2's <|endoftext|>
    private static readonly long[,] Tokens = { { End, 5, 17, 42 }, { End, 3, 3, 70 } };

    /// <summary>ViT heads are not in timm files: the base config brings them. GPT-2's come from its config.json.</summary>
    private static ModelConfig Base(CrossAttentionMode mode = CrossAttentionMode.Interleaved) =>
        Presets.VitB16Gpt2 with { EncoderHeads = 4, CrossAttention = mode };

    private sealed record Sources(Dictionary<string, Tensor> Vit, Dictionary<string, Tensor> Gpt2, string VitPath, string Gpt2Path);

    /// <summary>A tiny timm ViT (width 32, 2 blocks, 32 px, patch 8) and a tiny GPT-2 (width 32, 2 blocks, vocab 100).</summary>
    private static Sources Write(TempDir dir, string gptFile = "model.safetensors", string prefix = "", bool lmHead = false,
        bool maskBuffers = false, bool config = true, ScalarType? dtype = null, Action<Dictionary<string, Tensor>, Dictionary<string, Tensor>>? edit = null)
    {
        var vit = TestFiles.Random(SourceKeys.TimmVit(width: 32, layers: 2, mlp: 64, patch: 8, image: 32, classes: 10), seed: 1);
        var gpt = TestFiles.Random(SourceKeys.Gpt2(vocab: 100, positions: 16, width: 32, layers: 2, mlp: 128, prefix, maskBuffers: maskBuffers), seed: 2);
        if (lmHead) gpt["lm_head.weight"] = gpt[prefix + "wte.weight"].clone();
        edit?.Invoke(vit, gpt);
        TestFiles.Save(dir["vit/model.safetensors"], vit);
        TestFiles.Save(dir["gpt2/" + gptFile], gpt, dtype);
        if (config) TestFiles.Json(dir["gpt2/config.json"], TestFiles.Gpt2Config(vocab: 100, positions: 16, width: 32, layers: 2, heads: 4, End));
        return new Sources(vit, gpt, dir["vit/model.safetensors"], Path.Combine(dir.Path, "gpt2"));
    }

    [Theory]
    [InlineData("model.safetensors", "", false, CrossAttentionMode.Interleaved)]
    [InlineData("pytorch_model.bin", "transformer.", true, CrossAttentionMode.Final)]
    public void Imports_into_the_right_parameters_and_matches_a_reference_forward(string gptFile, string prefix, bool lmHead, CrossAttentionMode mode)
    {
        using var dir = new TempDir();
        var src = Write(dir, gptFile, prefix, lmHead, maskBuffers: lmHead);
        var (model, report) = TimmImporter.Import(src.VitPath, src.Gpt2Path, Base(mode));
        using var _ = model;
        var p = ImportPlan.TensorsOf(model);

        var c = model.Config;
        Assert.Equal((32, 2, 64, 8, 32), (c.EncoderWidth, c.EncoderLayers, c.EncoderMlpWidth, c.PatchSize, c.ImageSize));
        Assert.Equal((100, 16, 32, 2, 4, 128), (c.VocabSize, c.MaxPositions, c.DecoderWidth, c.DecoderLayers, c.DecoderHeads, c.DecoderMlpWidth));
        Assert.Equal((End, End, End), (c.BosTokenId, c.EosTokenId, c.PadTokenId));

        // Same layout for timm; GPT-2's Conv1D [in, out] lands transposed.
        Assert.True(CheckpointTests.Same(src.Vit["blocks.1.attn.qkv.weight"], p["encoder.blocks.1.attn.qkv.weight"]));
        Assert.True(CheckpointTests.Same(src.Gpt2[prefix + "h.0.attn.c_attn.weight"].t(), p["decoder.transformer.h.0.attn.c_attn.weight"]));
        Assert.True(CheckpointTests.Same(src.Gpt2[prefix + "h.1.mlp.c_proj.weight"].t(), p["decoder.transformer.h.1.mlp.c_proj.weight"]));

        // Cross-attention is new and keeps its init: norms ones/zeros, biases zero, weights normal(0, 0.02).
        Assert.Equal(16, report.NewParameters.Count); // 2 blocks x (ln_cross_attn, q_attn, c_attn, c_proj) x (weight, bias)
        Assert.All(report.NewParameters, n => Assert.True(Captioner.IsCrossAttention(n), n));
        Assert.Equal(p.Count, report.Copied + report.NewParameters.Count);
        Assert.True(p["decoder.transformer.h.0.ln_cross_attn.weight"].eq(1).all().item<bool>());
        Assert.True(p["decoder.transformer.h.0.crossattention.c_attn.bias"].eq(0).all().item<bool>());
        Assert.InRange(p["decoder.transformer.h.0.crossattention.c_attn.weight"].std().item<float>(), 0.01f, 0.03f);

        var ignored = report.Ignored.Select(i => i.Source).ToList();
        Assert.Contains("vit: head.weight", ignored);
        if (mode == CrossAttentionMode.Interleaved) Assert.Contains("vit: norm.weight", ignored);
        else Assert.True(CheckpointTests.Same(src.Vit["norm.weight"], p["encoder.norm.weight"]));
        if (lmHead) Assert.Contains($"gpt2: {prefix}h.1.attn.masked_bias", ignored);

        // Logits against plain ops on the source tensors (the new cross-attention read back from the model, as Conv1D).
        using var noGrad = no_grad();
        var pixels = CaptionerTests.Pixels(c, 2, seed: 7);
        var (blocks, final) = Reference.TimmVit(n => src.Vit[n], pixels, layers: 2, heads: 4, finalNorm: mode == CrossAttentionMode.Final);
        Tensor Decoder(string n)
        {
            if (!Captioner.IsCrossAttention("." + n)) return src.Gpt2[prefix + n];
            var ours = p["decoder.transformer." + n];
            return ours.dim() == 2 ? ours.t() : ours; // back to Conv1D [in, out]
        }
        var expected = Reference.Gpt2(Decoder, tensor(Tokens), final is null ? blocks : [final], layers: 2, heads: 4);
        var actual = model.forward(pixels, tensor(Tokens));
        Assert.True(expected.allclose(actual, rtol: 1e-4, atol: 1e-5), $"max |diff| {(expected - actual).abs().max().item<float>()}");
    }

    [Fact]
    public void Fp16_gpt2_weights_are_converted_to_fp32()
    {
        using var dir = new TempDir();
        var src = Write(dir, dtype: ScalarType.Float16);
        var (model, _) = TimmImporter.Import(src.VitPath, src.Gpt2Path, Base());
        using var _m = model;
        Assert.Equal(ScalarType.Float32, model.DType);
        Assert.True(CheckpointTests.Same(src.Gpt2["wte.weight"].half().to(float32), ImportPlan.TensorsOf(model)["decoder.transformer.wte.weight"]));
    }

    [Fact]
    public void Without_config_json_gpt2_sizes_come_from_the_tensors()
    {
        using var dir = new TempDir();
        var src = Write(dir, config: false);
        var baseConfig = Base() with { DecoderHeads = 4, BosTokenId = End, EosTokenId = End, PadTokenId = End };
        var (model, _) = TimmImporter.Import(src.VitPath, Path.Combine(src.Gpt2Path, "model.safetensors"), baseConfig);
        using var _m = model;
        var c = model.Config;
        Assert.Equal((100, 16, 32, 2, 128), (c.VocabSize, c.MaxPositions, c.DecoderWidth, c.DecoderLayers, c.DecoderMlpWidth));
    }

    [Fact]
    public void An_unexpected_tensor_fails_naming_it()
    {
        using var dir = new TempDir();
        var src = Write(dir, edit: (vit, gpt) => (vit["blocks.0.ls1.gamma"], gpt["h.0.attn.rotary.weight"]) = (ones(32), ones(32)));
        var e = Assert.Throws<CheckpointMismatchException>(() => TimmImporter.Import(src.VitPath, src.Gpt2Path, Base()));
        Assert.Equal(["vit: blocks.0.ls1.gamma -> encoder.blocks.0.ls1.gamma (no such parameter)",
            "gpt2: h.0.attn.rotary.weight -> decoder.transformer.h.0.attn.rotary.weight (no such parameter)"], e.Unexpected);
        Assert.Contains("vit: blocks.0.ls1.gamma", e.Message);
        Assert.Empty(e.Missing);
    }

    [Fact]
    public void A_wrong_shape_fails_naming_the_tensor_and_both_shapes()
    {
        using var dir = new TempDir();
        var src = Write(dir, edit: (vit, gpt) =>
        {
            gpt["wpe.weight"] = zeros(20, 32);                       // config.json says 16 positions
            gpt["h.1.mlp.c_fc.weight"] = gpt["h.1.mlp.c_fc.weight"].t().contiguous(); // stored as a Linear, not a Conv1D
        });
        var e = Assert.Throws<CheckpointMismatchException>(() => TimmImporter.Import(src.VitPath, src.Gpt2Path, Base()));
        Assert.Contains("gpt2: wpe.weight -> decoder.transformer.wpe.weight: checkpoint [20, 32] vs model [16, 32]", e.Message);
        Assert.Contains("gpt2: h.1.mlp.c_fc.weight -> decoder.transformer.h.1.mlp.c_fc.weight: checkpoint [128, 32], transposed [32, 128], vs model [128, 32]", e.Message);
        Assert.Equal(2, e.ShapeMismatches.Count);
        Assert.Empty(e.Missing); // a misfit is reported once, not also as missing
    }

    [Fact]
    public void An_lm_head_that_is_not_wte_fails_naming_both()
    {
        using var dir = new TempDir();
        var src = Write(dir, lmHead: true, edit: (_, gpt) => gpt["lm_head.weight"] = gpt["lm_head.weight"] + 0.01);
        var e = Assert.Throws<InvalidDataException>(() => TimmImporter.Import(src.VitPath, src.Gpt2Path, Base()));
        Assert.Contains("'lm_head.weight' differs from 'wte.weight'", e.Message);
    }

    [Fact]
    public void A_non_timm_vit_file_is_rejected_by_name()
    {
        using var dir = new TempDir();
        var src = Write(dir, edit: (vit, _) => vit.Remove("cls_token"));
        var e = Assert.Throws<InvalidDataException>(() => TimmImporter.Import(src.VitPath, src.Gpt2Path, Base()));
        Assert.Contains(src.VitPath, e.Message);
        Assert.Contains("'cls_token'", e.Message);
    }
}
