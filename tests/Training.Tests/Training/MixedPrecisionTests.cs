using CaptionService.Model;
using CaptionService.Training.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Tests.Training;

public class MixedPrecisionTests
{
    private static (Tensor Pixels, Tensor Input, Tensor Labels) Batch()
    {
        var g = new torch.Generator(5);
        return (randn([4, 3, 32, 32], generator: g),
            tensor(new long[,] { { 50256, 1, 2, 3 }, { 50256, 4, 5, 6 }, { 50256, 7, 8, 9 }, { 50256, 1, 5, 9 } }),
            tensor(new long[,] { { 1, 2, 3, 50256 }, { 4, 5, 6, 50256 }, { 7, 8, 9, 50256 }, { 1, 5, 9, 50256 } }));
    }

    [Fact]
    public void Bf16_trains_a_low_precision_copy_against_fp32_masters()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(1);
        var master = new Captioner(Presets.Tiny with { EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0, MlpDropout = 0 });
        using var precision = new MixedPrecision(master, Precision.Bf16);
        Assert.Equal(ScalarType.BFloat16, precision.Work.DType);
        using var optimizer = optim.AdamW(master.parameters(), lr: 3e-3);
        var (pixels, input, labels) = Batch();
        var losses = new List<float>();
        for (int step = 0; step < 8; step++)
        {
            var loss = precision.Work.Loss(pixels.to(ScalarType.BFloat16), input, labels);
            losses.Add(loss.item<float>());
            precision.ScaleLoss(loss).backward();
            Assert.True(precision.PrepareGradients());
            optimizer.step();
            precision.AfterStep();
            precision.ZeroGrad();
        }
        Assert.True(losses[^1] < losses[0] - 1, string.Join(", ", losses));
        Assert.All(master.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        // The working copy: the linear and convolution weights are the masters rounded to bf16; norms,
        // embeddings and positions are the fp32 masters themselves.
        var work = precision.Work.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in master.named_parameters())
        {
            bool low = work[name].dtype == ScalarType.BFloat16;
            bool layer = !new[] { "norm", "ln_", "wte", "wpe", "cls_token", "pos_embed" }.Any(name.Contains);
            Assert.True(low == layer, $"{name} is {work[name].dtype}");
            Assert.True(work[name].to(ScalarType.Float32).equal(low ? p.to(ScalarType.BFloat16).to(ScalarType.Float32) : p).all().item<bool>(), name);
        }
    }

    [Fact]
    public void Fp16_skips_a_step_with_overflowing_gradients_and_halves_the_scale()
    {
        using var scope = NewDisposeScope();
        torch.manual_seed(2);
        var master = new Captioner(Presets.Tiny);
        using var precision = new MixedPrecision(master, Precision.Fp16);
        Assert.Equal(65536, precision.LossScale);
        var (name, weight) = precision.Work.named_parameters().First();
        using (no_grad()) weight.grad = full_like(weight, float.PositiveInfinity);
        Assert.False(precision.PrepareGradients());
        Assert.Equal(32768, precision.LossScale);

        using (no_grad()) weight.grad = full_like(weight, 65536f / 2);
        Assert.True(precision.PrepareGradients());
        var masterGrad = master.named_parameters().First(p => p.name == name).parameter.grad!;
        Assert.Equal(ScalarType.Float32, masterGrad.dtype);
        Assert.Equal(1f, masterGrad.max().item<float>()); // unscaled: 32768 / 32768
    }
}
