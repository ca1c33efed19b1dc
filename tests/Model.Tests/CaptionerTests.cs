using CaptionService.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests;

public class CaptionerTests
{
    internal static Captioner Tiny(ModelConfig? config = null, int seed = 0)
    {
        torch.manual_seed(seed);
        var model = new Captioner(config ?? Presets.Tiny);
        model.eval();
        return model;
    }

    internal static Tensor Pixels(ModelConfig config, int batch, int seed)
    {
        var g = new torch.Generator((ulong)seed);
        return torch.randn([batch, 3, config.ImageSize, config.ImageSize], generator: g);
    }

    [Fact]
    public void Forward_gives_logits_per_position()
    {
        using var scope = torch.NewDisposeScope();
        var model = Tiny();
        using var _ = torch.no_grad();
        var logits = model.forward(Pixels(Presets.Tiny, 2, 1), torch.tensor(new long[,] { { 50256, 32, 3290 }, { 50256, 13, 13 } }));
        Assert.Equal(new long[] { 2, 3, 50257 }, logits.shape);
    }

    [Theory]
    [InlineData(CrossAttentionMode.Interleaved, 2)]
    [InlineData(CrossAttentionMode.Final, 1)]
    public void Encoder_returns_one_state_per_block_or_the_final_one(CrossAttentionMode mode, int expected)
    {
        using var scope = torch.NewDisposeScope();
        var config = Presets.Tiny with { CrossAttention = mode };
        var model = Tiny(config);
        using var _ = torch.no_grad();
        var states = model.Encode(Pixels(config, 3, 1));
        Assert.Equal(expected, states.Length);
        Assert.All(states, s => Assert.Equal(new long[] { 3, config.NumPatches + 1, config.EncoderWidth }, s.shape));
    }

    [Theory]
    [InlineData(EncoderLayout.Timm, CrossAttentionMode.Interleaved)]
    [InlineData(EncoderLayout.HfVit, CrossAttentionMode.Final)]
    public void Changing_a_later_token_never_changes_earlier_logits(EncoderLayout layout, CrossAttentionMode mode)
    {
        using var scope = torch.NewDisposeScope();
        var config = Presets.Tiny with { EncoderLayout = layout, CrossAttention = mode };
        var model = Tiny(config);
        using var _ = torch.no_grad();
        var pixels = Pixels(config, 1, 2);
        var a = model.forward(pixels, torch.tensor(new long[,] { { 50256, 10, 20, 30, 40 } }));
        var b = model.forward(pixels, torch.tensor(new long[,] { { 50256, 10, 20, 999, 41 } }));
        Assert.True(a[.., ..3].allclose(b[.., ..3], rtol: 0, atol: 1e-6), "positions before the change must not move");
        Assert.False(a[.., 3].allclose(b[.., 3], rtol: 0, atol: 1e-4), "the changed position itself must move");
    }

    [Theory]
    [InlineData(CrossAttentionMode.Interleaved)]
    [InlineData(CrossAttentionMode.Final)]
    public void Different_images_give_different_logits(CrossAttentionMode mode)
    {
        using var scope = torch.NewDisposeScope();
        var config = Presets.Tiny with { CrossAttention = mode };
        var model = Tiny(config);
        using var _ = torch.no_grad();
        var tokens = torch.tensor(new long[,] { { 50256, 10, 20 } });
        var a = model.forward(Pixels(config, 1, 3), tokens);
        var b = model.forward(Pixels(config, 1, 4), tokens);
        // Every position, the first included, must see the image.
        var perPosition = (a - b).abs().amax([0, 2]);
        Assert.All(perPosition.data<float>().ToArray(), d => Assert.True(d > 1e-4, $"max |diff| {d}"));
    }

    [Fact]
    public void Chunked_loss_equals_cross_entropy_over_the_full_logits()
    {
        using var scope = torch.NewDisposeScope();
        var model = Tiny();
        var pixels = Pixels(Presets.Tiny, 3, 1);
        var tokens = torch.tensor(new long[,] { { 50256, 10, 20, 30 }, { 50256, 40, 50256, 50256 }, { 50256, 7, 8, 9 } });
        var labels = torch.tensor(new long[,] { { 10, 20, 30, 50256 }, { 40, 50256, -100, -100 }, { 7, 8, 9, 50256 } });
        using var _ = torch.no_grad();
        var reference = torch.nn.functional.cross_entropy(model.forward(pixels, tokens).flatten(0, 1), labels.flatten());
        foreach (var chunk in new[] { 1, 5, 64 })
            Assert.Equal(reference.item<float>(), model.Loss(pixels, tokens, labels, chunk: chunk).item<float>(), tolerance: 1e-4f);
    }

    [Fact]
    public void Eval_turns_every_dropout_off_and_train_turns_it_on()
    {
        using var scope = torch.NewDisposeScope();
        var model = Tiny();
        var pixels = Pixels(Presets.Tiny, 1, 1);
        var tokens = torch.tensor(new long[,] { { 50256, 10, 20 } });
        using (torch.no_grad())
        {
            Assert.True(model.forward(pixels, tokens).allclose(model.forward(pixels, tokens), rtol: 0, atol: 0));
            model.train();
            Assert.False(model.forward(pixels, tokens).allclose(model.forward(pixels, tokens), rtol: 0, atol: 0));
        }
        Assert.All(model.modules(), m => Assert.True(m.training));
    }

    [Fact]
    public void Parameter_names_follow_the_pretrained_checkpoints()
    {
        var timm = Tiny(Presets.Tiny with { CrossAttention = CrossAttentionMode.Final }).state_dict().Keys.ToHashSet();
        foreach (var name in new[] {
            "encoder.patch_embed.proj.weight", "encoder.cls_token", "encoder.pos_embed",
            "encoder.blocks.1.norm1.weight", "encoder.blocks.1.attn.qkv.weight", "encoder.blocks.1.attn.proj.bias",
            "encoder.blocks.1.norm2.bias", "encoder.blocks.1.mlp.fc1.weight", "encoder.blocks.1.mlp.fc2.bias", "encoder.norm.weight",
            "decoder.transformer.wte.weight", "decoder.transformer.wpe.weight", "decoder.transformer.h.1.ln_1.weight",
            "decoder.transformer.h.1.attn.c_attn.weight", "decoder.transformer.h.1.attn.c_proj.bias",
            "decoder.transformer.h.1.ln_cross_attn.weight", "decoder.transformer.h.1.crossattention.q_attn.weight",
            "decoder.transformer.h.1.crossattention.c_attn.weight", "decoder.transformer.h.1.crossattention.c_proj.weight",
            "decoder.transformer.h.1.ln_2.weight", "decoder.transformer.h.1.mlp.c_fc.weight", "decoder.transformer.h.1.mlp.c_proj.bias",
            "decoder.transformer.ln_f.weight" })
            Assert.Contains(name, timm);
        Assert.DoesNotContain("decoder.lm_head.weight", timm); // tied to wte

        var hf = Tiny(Presets.Tiny with { EncoderLayout = EncoderLayout.HfVit, CrossAttention = CrossAttentionMode.Final }).state_dict().Keys.ToHashSet();
        foreach (var name in new[] {
            "encoder.embeddings.patch_embeddings.projection.weight", "encoder.embeddings.cls_token", "encoder.embeddings.position_embeddings",
            "encoder.encoder.layer.1.layernorm_before.weight", "encoder.encoder.layer.1.attention.attention.query.weight",
            "encoder.encoder.layer.1.attention.attention.key.bias", "encoder.encoder.layer.1.attention.attention.value.weight",
            "encoder.encoder.layer.1.attention.output.dense.weight", "encoder.encoder.layer.1.layernorm_after.bias",
            "encoder.encoder.layer.1.intermediate.dense.weight", "encoder.encoder.layer.1.output.dense.bias", "encoder.layernorm.weight" })
            Assert.Contains(name, hf);

        // Each parameter exactly once, under its checkpoint name (no C# field names leaking in).
        foreach (var config in new[] { Presets.Tiny, Presets.Tiny with { EncoderLayout = EncoderLayout.HfVit, CrossAttention = CrossAttentionMode.Final } })
        {
            var model = Tiny(config);
            Assert.Equal(model.named_parameters().Select(p => p.name).Order(), model.state_dict().Keys.Order());
        }

        var interleaved = Tiny().state_dict().Keys;
        Assert.DoesNotContain("encoder.norm.weight", interleaved); // nothing reads the final norm there
    }

    [Fact]
    public void Full_size_parameter_counts_match_the_design()
    {
        // One full-size model per layout (~1 GB each; no random init, since only shapes are counted), freed at once.
        ParameterCounts seed, hf;
        using (var model = new Captioner(Presets.VitB16Gpt2, initialize: false)) seed = model.CountParameters();
        using (var model = new Captioner(Presets.HfVitGpt2, initialize: false)) hf = model.CountParameters();
        Assert.Equal(85_797_120, seed.Encoder);          // ViT-B/16 body without the final norm (interleaved)
        Assert.Equal(124_439_808, seed.Decoder);         // GPT-2 small, tied head
        Assert.Equal(28_366_848, seed.CrossAttention);   // 12 x (ln_cross_attn + q_attn + c_attn + c_proj)

        Assert.Equal(85_798_656, hf.Encoder);            // with the final norm
        Assert.Equal(124_439_808, hf.Decoder);
        Assert.Equal(28_366_848, hf.CrossAttention);
    }

    [Fact]
    public void Parameters_survive_a_dtype_move()
    {
        using var scope = torch.NewDisposeScope();
        var model = Tiny(Presets.Tiny with { EncoderLayout = EncoderLayout.HfVit });
        model.to(ScalarType.BFloat16);
        using var _ = torch.no_grad();
        var logits = model.forward(Pixels(Presets.Tiny, 1, 1).to(ScalarType.BFloat16), torch.tensor(new long[,] { { 50256 } }));
        Assert.Equal(ScalarType.BFloat16, logits.dtype);
    }

    [Fact]
    public void Invalid_configs_name_the_field()
    {
        var e = Assert.Throws<ArgumentException>(() => new Captioner(Presets.Tiny with { DecoderLayers = 3 }));
        Assert.Contains("encoder_layers", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Captioner(Presets.Tiny with { DecoderHeads = 5 }));
        Assert.Contains("decoder_heads", e.Message);
    }

    [Fact]
    public void The_conv_stem_makes_the_same_patch_grid_under_its_own_names_and_is_written_only_when_used()
    {
        using var scope = torch.NewDisposeScope();
        var config = Presets.Small;
        Assert.Equal(PatchStem.Conv, config.PatchStem);
        var model = Tiny(config);
        var shapes = model.named_parameters().Where(p => p.name.StartsWith("encoder.patch_embed."))
            .ToDictionary(p => p.name, p => p.parameter.shape);
        // 16 px patches: four 3 x 3 stride-2 convolutions (widths 16, 32, 64, 128) with GELU between, then a 1 x 1 projection.
        Assert.Equal(new long[] { 16, 3, 3, 3 }, shapes["encoder.patch_embed.stem.0.weight"]);
        Assert.Equal(new long[] { 32, 16, 3, 3 }, shapes["encoder.patch_embed.stem.2.weight"]);
        Assert.Equal(new long[] { 64, 32, 3, 3 }, shapes["encoder.patch_embed.stem.4.weight"]);
        Assert.Equal(new long[] { 128, 64, 3, 3 }, shapes["encoder.patch_embed.stem.6.weight"]);
        Assert.Equal(new long[] { 128, 128, 1, 1 }, shapes["encoder.patch_embed.proj.weight"]);
        Assert.Equal(10, shapes.Count);

        using var _ = torch.no_grad();
        var states = model.Encode(Pixels(config, 2, 1));
        Assert.Equal(new long[] { 2, 6 * 6 + 1, 128 }, states[^1].shape);

        Assert.Contains("\"patch_stem\": \"conv\"", config.ToJson());
        Assert.Equal(PatchStem.Conv, ModelConfig.FromJson(config.ToJson()).PatchStem);
        Assert.DoesNotContain("patch_stem", Presets.Tiny.ToJson()); // every other config.json stays as it was

        var e = Assert.Throws<ArgumentException>(() => new Captioner(config with { PatchSize = 12 }));
        Assert.Contains("patch_stem 'conv' needs a patch_size that is a power of 2 (got 12)", e.Message);
    }
}
