using CaptionService.Model.Generation;
using TorchSharp;
using static CaptionService.Model.Tests.CaptionerTests;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests;

public class MixedPrecisionTests
{
    [Fact]
    public void Mixed_bf16_keeps_norms_and_embeddings_in_fp32_and_stays_close_to_fp32()
    {
        var config = Presets.Tiny;
        var fp32 = Tiny(config, seed: 5);
        var mixed = new Captioner(config, initialize: false);
        using (no_grad())
        {
            var source = fp32.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            foreach (var (name, p) in mixed.named_parameters()) p.copy_(source[name]);
        }
        mixed.eval();
        mixed.ToMixedPrecision(ScalarType.BFloat16);
        foreach (var (name, p) in mixed.named_parameters())
        {
            bool norm = name.Contains("norm") || name.Contains("ln_");
            bool embedding = name.Contains("wte") || name.Contains("wpe") || name.Contains("pos_embed") || name.Contains("cls_token");
            var want = norm || embedding ? ScalarType.Float32 : ScalarType.BFloat16;
            Assert.True(want == p.dtype, $"{name}: {p.dtype}");
        }
        Assert.Equal(ScalarType.BFloat16, mixed.DType);

        using var pixels = Pixels(config, 2, 3);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var tokens = tensor(new long[] { config.BosTokenId, 5, 9, 14, config.BosTokenId, 7, 7, 2 }).view(2, 4);
        var expected = fp32.forward(pixels, tokens);
        var actual = mixed.forward(pixels.to(ScalarType.BFloat16), tokens);
        Assert.Equal(ScalarType.Float32, actual.dtype); // the logits come back in fp32
        double scale = expected.abs().max().item<float>();
        double error = actual.Plus(expected.neg()).abs().max().item<float>();
        Assert.True(error < 0.05 * scale, $"max |mixed - fp32| = {error} (logits up to {scale})");

        // The cached path still equals the full recompute in mixed precision.
        var generator = new CaptionGenerator(mixed);
        var options = new DecodingOptions { MaxNewTokens = 8, StopAtEos = false };
        var cached = generator.Generate(pixels, options);
        var recomputed = generator.GreedyByRecompute(pixels, 8, stopAtEos: false);
        Assert.Equal(recomputed.Select(c => c.Tokens), cached.Select(c => c.Tokens));
    }

    [Fact]
    public void Mixed_head_computes_in_bf16_but_its_leading_logits_are_fp32s_and_no_checkpoint_holds_its_copy()
    {
        var config = Presets.Tiny;
        var model = Tiny(config, seed: 3);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var x = randn(4, 3, config.DecoderWidth, generator: new Generator(11)); // [B, T, C] hidden states
        var fp32 = model.Decoder.LmHead(x);

        model.ToMixedPrecision(ScalarType.BFloat16);
        var mixed = model.Decoder.LmHead(x);
        Assert.Equal(ScalarType.Float32, mixed.dtype);
        Assert.Equal(fp32.shape, mixed.shape);
        // Recomputed are the leading 32 of the bf16 logits, which hold fp32's leading ones (the edge of the 32 may differ).
        var top = fp32.topk(CaptionService.Model.Text.TextDecoder.ExactTopLogits / 4, dim: -1).indexes;
        double leading = mixed.gather(-1, top).Plus(fp32.gather(-1, top).neg()).abs().max().item<float>();
        Assert.True(leading < 1e-5, $"the leading logits are fp32's (max difference {leading})");
        Assert.Equal(fp32.argmax(-1).data<long>().ToArray(), mixed.argmax(-1).data<long>().ToArray());
        double rounding = mixed.Plus(fp32.neg()).abs().max().item<float>();
        Assert.True(rounding > 1e-4, $"the other logits come from the bf16 head (max difference {rounding})");

        Assert.DoesNotContain(CaptionService.Model.Checkpoints.ImportPlan.TensorsOf(model).Keys, name => name.Contains("lm_head"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ToPrecision_converts_the_linear_layers_when_mixed_and_everything_otherwise(bool mixed)
    {
        var model = Tiny(Presets.Tiny, seed: 1).ToPrecision(ScalarType.BFloat16, mixed);
        var dtypes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.dtype);
        Assert.Equal(ScalarType.BFloat16, dtypes["decoder.transformer.h.0.attn.c_attn.weight"]);
        Assert.Equal(mixed ? ScalarType.Float32 : ScalarType.BFloat16, dtypes["decoder.transformer.ln_f.weight"]);
        Assert.Equal(mixed ? ScalarType.Float32 : ScalarType.BFloat16, dtypes["decoder.transformer.wte.weight"]);

        var fp32 = Tiny(Presets.Tiny, seed: 1).ToPrecision(ScalarType.Float32, mixed);
        Assert.All(fp32.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }
}
