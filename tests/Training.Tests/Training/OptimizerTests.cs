using CaptionService.Model;
using CaptionService.Training.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void Weight_decay_only_on_layer_weights_never_on_biases_norms_or_embeddings()
    {
        using var model = new Captioner(Presets.Tiny);
        var decays = model.named_parameters().Where(p => OptimizerGroups.Decays(p.name, p.parameter)).Select(p => p.name).ToHashSet();
        foreach (var name in new[] { "encoder.patch_embed.proj.weight", "encoder.blocks.0.attn.qkv.weight", "encoder.blocks.1.mlp.fc2.weight",
                     "decoder.transformer.h.0.attn.c_attn.weight", "decoder.transformer.h.1.crossattention.q_attn.weight", "decoder.transformer.h.1.mlp.c_proj.weight" })
            Assert.Contains(name, decays);
        foreach (var name in new[] { "encoder.cls_token", "encoder.pos_embed", "encoder.patch_embed.proj.bias", "encoder.blocks.0.norm1.weight",
                     "decoder.transformer.wte.weight", "decoder.transformer.wpe.weight", "decoder.transformer.h.0.ln_cross_attn.weight",
                     "decoder.transformer.h.0.attn.c_attn.bias", "decoder.transformer.ln_f.bias" })
            Assert.DoesNotContain(name, decays);
        Assert.All(decays, n => Assert.EndsWith(".weight", n));
        using var hf = new Captioner(Presets.Tiny with { EncoderLayout = EncoderLayout.HfVit });
        Assert.DoesNotContain(hf.named_parameters(), p => p.name.Contains("position_embeddings") && OptimizerGroups.Decays(p.name, p.parameter));

        // A real AdamW step with zero gradients moves only the decayed weights, by the factor (1 - lr * wd).
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        foreach (var p in model.parameters()) p.grad = zeros_like(p);
        using var optimizer = optim.AdamW(OptimizerGroups.For(model, lr: 0.1, weightDecay: 0.5), lr: 0.1);
        optimizer.step();
        foreach (var (name, p) in model.named_parameters())
        {
            var expected = decays.Contains(name) ? before[name].Times(0.95) : before[name];
            Assert.True(p.allclose(expected, rtol: 1e-5, atol: 1e-7), name);
        }
    }

    [Fact]
    public void Clipping_on_the_device_matches_torch_s_clip_grad_norm()
    {
        var g = new torch.Generator(3);
        var a = Enumerable.Range(0, 3).Select(i => new TorchSharp.Modules.Parameter(randn([5, 4], generator: g))).ToList();
        var b = a.Select(p => new TorchSharp.Modules.Parameter(p.detach().clone())).ToList();
        foreach (var (p, q) in a.Zip(b))
        {
            p.grad = randn([5, 4], generator: g).Times(3.0);
            q.grad = p.grad.clone();
        }
        double norm = nn.utils.clip_grad_norm_(a, 1.5);
        Assert.True(norm > 1.5);
        GradientClipping.ClipNorm(b, 1.5);
        foreach (var (p, q) in a.Zip(b)) Assert.True(p.grad!.allclose(q.grad!, rtol: 1e-5, atol: 1e-7));
        // Under the limit nothing changes.
        var small = b.Select(p => p.grad!.clone()).ToList();
        GradientClipping.ClipNorm(b, 100);
        foreach (var (p, s) in b.Zip(small)) Assert.True(p.grad!.equal(s).all().item<bool>());
    }
}
