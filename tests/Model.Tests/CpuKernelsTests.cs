using CaptionService.Model.Checkpoints;
using CaptionService.Model.Generation;
using CaptionService.Model.Kernels;
using TorchSharp;
using static CaptionService.Model.Tests.CaptionerTests;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model.Tests;

/// <summary>
/// The CPU kernels (<see cref="CpuKernels"/>) against libtorch's ops: each kernel on odd sizes, and whole
/// captions of a tiny model with and without them. On a machine where they cannot run, the model must
/// say so and keep libtorch's ops.
/// </summary>
public class CpuKernelsTests
{
    private static Tensor Random(Generator g, params long[] shape) => randn(shape, generator: g);

    private static double MaxError(Tensor actual, Tensor expected) => actual.sub(expected).abs().max().item<float>();

    [Fact]
    public void A_packed_linear_layer_computes_what_libtorchs_linear_does_in_every_mode()
    {
        if (!CpuKernels.Fp32)
        {
            Assert.StartsWith("off: ", CpuKernels.Status);
            Assert.Throws<NotSupportedException>(() => new PackedLinear(ones(4, 4), null));
            return;
        }
        using var scope = NewDisposeScope();
        using var g = new Generator(3);
        var dtypes = CpuKernels.Bf16 ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float32];
        foreach (var dtype in dtypes)
            foreach (var (m, k, n) in new[] { (1, 16, 1), (5, 33, 70), (7, 64, 130), (13, 48, 64), (32, 17, 200) })
            {
                var weight = Random(g, n, k).DividedBy(4).to(dtype);
                var bias = Random(g, n).to(dtype);
                var x = Random(g, m, k);
                using var packed = new PackedLinear(weight, bias);
                // What the kernel should compute: bf16 inputs (x rounded as the libtorch path rounds it), fp32 sums.
                var exact = F.linear(x.to(dtype).to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
                double tolerance = 1e-4 * exact.abs().max().item<float>();
                string what = $"{dtype} m={m} k={k} n={n}";

                var y = packed.Forward(x);
                Assert.Equal(new long[] { m, n }, y.shape);
                Assert.True(MaxError(y, exact) <= tolerance, $"{what}: store, error {MaxError(y, exact)}");

                var residual = Random(g, m, n);
                var expected = residual.add(exact);
                packed.AddTo(residual, x);
                Assert.True(MaxError(residual, expected) <= tolerance, $"{what}: accumulate");

                var gelu = packed.ForwardGelu(x);
                var want = F.gelu(exact, approximate: TorchSharp.Modules.GELU.Approximate.tanh);
                Assert.True(MaxError(gelu, want) <= 2 * tolerance + 1e-6, $"{what}: gelu, error {MaxError(gelu, want)}");

                // The LayerNorm before the layer, fused in (fp32 statistics; in bf16 its output's rounding can flip
                // now and then: a bf16 step of the normed value times a weight).
                using var norm = nn.LayerNorm(k, eps: 1e-5);
                using (no_grad())
                {
                    norm.weight!.copy_(Random(g, k));
                    norm.bias!.copy_(Random(g, k));
                }
                var normed = F.layer_norm(x.mul(3).add(1), [k], norm.weight, norm.bias, 1e-5);
                var wantNormed = F.linear(normed.to(dtype).to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
                double flip = dtype == ScalarType.BFloat16 ? 2 * normed.abs().max().item<float>() / 128 * weight.to(ScalarType.Float32).abs().max().item<float>() : 0;
                double normTolerance = 1e-4 * wantNormed.abs().max().item<float>() + flip;
                Assert.True(MaxError(packed.Forward(x.mul(3).add(1), norm), wantNormed) <= normTolerance, $"{what}: norm");
                Assert.True(MaxError(packed.ForwardGelu(x.mul(3).add(1), norm), F.gelu(wantNormed, approximate: TorchSharp.Modules.GELU.Approximate.tanh)) <= 2 * normTolerance + 1e-6, $"{what}: norm and gelu");

                // A view of wider rows is read at its stride.
                var wide = Random(g, m, k + 5);
                var view = wide.narrow(1, 2, k);
                var fromView = packed.Forward(view);
                var exactView = F.linear(view.to(dtype).to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
                Assert.True(MaxError(fromView, exactView) <= tolerance, $"{what}: strided input");
            }
    }

    [Fact]
    public void Many_rows_fuse_the_norm_the_gelu_and_the_residual_add_as_libtorch_computes_them()
    {
        if (!CpuKernels.Bf16) return; // the many-row kernels are bf16 only; A_model_says_why... checks the status
        using var scope = NewDisposeScope();
        using var g = new Generator(5);
        // Rows across panels and threads (a panel is at most 48 rows), columns past a block of 64, an odd k.
        foreach (var (m, k, n) in new[] { (1, 16, 1), (7, 33, 70), (97, 64, 130), (197, 48, 64), (230, 17, 200) })
        {
            string what = $"m={m} k={k} n={n}";
            var weight = Random(g, n, k).DividedBy(4).to(ScalarType.BFloat16);
            var bias = Random(g, n);
            using var packed = new PackedLinear(weight, bias);
            var w32 = weight.to(ScalarType.Float32);
            var x = Random(g, m, k).mul(3).add(1);
            using var norm = nn.LayerNorm(k, eps: 1e-6);
            using (no_grad())
            {
                norm.weight!.copy_(Random(g, k));
                norm.bias!.copy_(Random(g, k));
            }

            // What the kernel should compute: the LayerNorm in fp32, its output rounded to bf16, fp32 sums.
            Tensor Exact(Tensor input) => F.linear(input.to(ScalarType.BFloat16).to(ScalarType.Float32), w32, bias);
            Tensor Normed(Tensor input) => F.layer_norm(input, [k], norm.weight, norm.bias, 1e-6);
            var exact = Exact(x);
            double tolerance = 1e-4 * exact.abs().max().item<float>();

            var y = packed.Rows(x);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            Assert.Equal(new long[] { m, n }, y.shape);
            // Rounded to bf16 once: within half a bf16 step (2^-9 relative) of the exact sums.
            Assert.True(MaxError(y.to(ScalarType.Float32), exact) <= tolerance + exact.abs().max().item<float>() / 256, $"{what}: store");

            // With a residual the output stays fp32: zeros show the exact function.
            var zero = zeros(m, n);
            var gelu = packed.Rows(x, geluErf: true, residual: zero);
            var want = F.gelu(exact);
            Assert.True(MaxError(gelu, want) <= tolerance + 1e-6, $"{what}: gelu, error {MaxError(gelu, want)}");
            var geluBf16 = packed.Rows(x, geluErf: true).to(ScalarType.Float32);
            Assert.True(MaxError(geluBf16, want) <= tolerance + want.abs().max().item<float>() / 256, $"{what}: gelu to bf16");

            // The LayerNorm's statistics, summed in another order, can flip the bf16 rounding of one of its outputs
            // now and then: at most a step of bf16 (2^-7 relative) times a weight each.
            var normed = Normed(x);
            var exactNormed = Exact(normed);
            var step = normed.abs().max().item<float>() / 128 * w32.abs().max().item<float>();
            var fromNorm = packed.Rows(x, norm, residual: zero);
            Assert.True(MaxError(fromNorm, exactNormed) <= tolerance + 2 * step, $"{what}: norm, error {MaxError(fromNorm, exactNormed)}");
            Assert.True(MaxError(packed.Rows(x, norm, geluErf: true, residual: zero), F.gelu(exactNormed)) <= tolerance + 2 * step, $"{what}: norm and gelu");

            var residual = Random(g, m, n);
            var sum = packed.Rows(x, residual: residual);
            Assert.Equal(ScalarType.Float32, sum.dtype);
            Assert.True(MaxError(sum, residual.add(exact)) <= tolerance, $"{what}: residual");
            Assert.False(ReferenceEquals(sum, residual));

            var inPlace = residual.clone();
            var same = packed.Rows(x.to(ScalarType.BFloat16).to(ScalarType.Float32), residual: inPlace, into: inPlace);
            Assert.Same(inPlace, same);
            Assert.True(MaxError(inPlace, residual.add(exact)) <= tolerance, $"{what}: in place");

            if (k % 2 == 0)
            {
                var fromBf16 = packed.Rows(x.to(ScalarType.BFloat16), residual: residual);
                Assert.True(MaxError(fromBf16, residual.add(exact)) <= tolerance, $"{what}: bf16 rows");
            }
        }

        using var layer = new PackedLinear(ones(8, 8, dtype: ScalarType.BFloat16), null);
        var error = Assert.Throws<ArgumentException>(() => layer.Rows(ones(4, 9)));
        Assert.Contains("[M, 8]", error.Message);
        Assert.Contains("[4, 9]", error.Message);
        Assert.Throws<ArgumentException>(() => layer.Rows(ones(4, 8), residual: ones(3, 8)));
        Assert.Throws<ArgumentException>(() => layer.Rows(ones(4, 8, dtype: ScalarType.BFloat16), nn.LayerNorm(8)));
        using var fp32 = new PackedLinear(ones(8, 8), null);
        Assert.Throws<NotSupportedException>(() => fp32.Rows(ones(4, 8)));
    }

    [Fact]
    public void The_vits_attention_kernel_equals_sdpa_over_every_query()
    {
        if (!CpuKernels.Bf16) return;
        using var scope = NewDisposeScope();
        using var g = new Generator(9);
        // Odd token counts (17 = the tiny ViT's, 197 = ViT-B/16's), heads narrower and wider than 64 dimensions.
        foreach (var (images, tokens, heads, d) in new[] { (1, 1, 1, 2), (2, 17, 4, 16), (3, 70, 2, 80), (1, 197, 12, 64) })
        {
            int c = heads * d;
            // A wider row than 3C: the kernel reads the rows at their stride.
            var qkv = Random(g, images * tokens, 3 * c + 6).mul(2).to(ScalarType.BFloat16).narrow(1, 2, 3 * c);
            var got = CpuKernels.VitAttention(qkv, images, tokens, heads);
            Assert.Equal(new long[] { images * tokens, c }, got.shape);
            Assert.Equal(ScalarType.BFloat16, got.dtype);
            var parts = qkv.to(ScalarType.Float32).view(images, tokens, 3 * c).chunk(3, dim: -1);
            Tensor Split(Tensor t) => t.view(images, tokens, heads, d).transpose(1, 2);
            var want = F.scaled_dot_product_attention(Split(parts[0]), Split(parts[1]), Split(parts[2])).transpose(1, 2).reshape(images * tokens, c);
            // The weights are rounded to bf16 for the second product and the output to bf16: about 2^-8 relative.
            double scale = want.abs().max().item<float>();
            double max = MaxError(got.to(ScalarType.Float32), want);
            Assert.True(max <= 0.02 * scale, $"{images}x{tokens} tokens, {heads} heads of {d}: error {max} of {scale}");
        }
        Assert.Throws<ArgumentException>(() => CpuKernels.VitAttention(ones(17, 3 * 64, dtype: ScalarType.BFloat16), 1, 17, 5));
        Assert.Throws<ArgumentException>(() => CpuKernels.VitAttention(ones(17, 3 * 64), 1, 17, 4));
    }

    [Fact]
    public void An_encoder_on_the_kernels_is_as_close_to_fp32_as_libtorchs_bf16_and_leaves_its_states_alone()
    {
        var exact = Tiny(seed: 21);
        var libtorch = SameWeights(exact).ToMixedPrecision(ScalarType.BFloat16);
        var onKernels = SameWeights(exact).ToMixedPrecision(ScalarType.BFloat16).UseCpuKernels();
        if (!CpuKernels.Bf16)
        {
            Assert.DoesNotContain("the encoder's linear layers too", onKernels.KernelStatus);
            return;
        }
        Assert.EndsWith("the encoder's linear layers too", onKernels.KernelStatus);
        using (var grad = enable_grad())
        {
            // Anything that needs gradients keeps libtorch's ops.
            using var p16 = Pixels(exact.Config, 2, 4).to(ScalarType.BFloat16);
            Assert.Equal(0, MaxError(onKernels.Encode(p16)[^1], libtorch.Encode(p16)[^1]));
        }
        using var mode = inference_mode();
        using var pixels = Pixels(exact.Config, 6, 4);
        var want = exact.Encode(pixels);
        var before = libtorch.Encode(pixels.to(ScalarType.BFloat16));
        var got = onKernels.Encode(pixels.to(ScalarType.BFloat16));
        Assert.Equal(want.Length, got.Length);
        static double Rel(Tensor a, Tensor r) => a.sub(r).pow(2).mean().sqrt().item<float>() / r.pow(2).mean().sqrt().item<float>();
        for (int i = 0; i < want.Length; i++)
        {
            Assert.Equal(ScalarType.Float32, got[i].dtype);
            Assert.Equal(want[i].shape, got[i].shape);
            // Both round to bf16 at the linear layers; the kernels keep their sums and the attention's weights in fp32 longer.
            Assert.True(Rel(got[i], want[i]) <= 1.25 * Rel(before[i], want[i]) + 1e-4,
                $"state {i}: kernels {Rel(got[i], want[i]):E2} from fp32, libtorch bf16 {Rel(before[i], want[i]):E2}");
        }
        // The cross-attention's keys and values of the image tokens (c_attn on the many-row kernels, bf16 out): the
        // same states in, libtorch's products within a bf16 rounding.
        using (var fromLibtorch = libtorch.StartDecoding(got, 4))
        using (var fromKernels = onKernels.StartDecoding(got, 4))
            for (int i = 0; i < fromLibtorch.CrossKeys.Length; i++)
                foreach (var (a, b) in new[] { (fromKernels.CrossKeys[i], fromLibtorch.CrossKeys[i]), (fromKernels.CrossValues[i], fromLibtorch.CrossValues[i]) })
                {
                    Assert.Equal(b.shape, a.shape);
                    Assert.Equal(b.dtype, a.dtype);
                    var scale = b.to(ScalarType.Float32).abs().max().item<float>();
                    Assert.True(MaxError(a.to(ScalarType.Float32), b.to(ScalarType.Float32)) <= scale / 128, $"block {i}: cross keys or values");
                }

        // Interleaved cross-attention reads every block's output: a block must not change its input in place.
        Assert.True(got[0].sub(got[1]).abs().max().item<float>() > 0);
        using var encoding = onKernels.Encoder.Begin(pixels.to(ScalarType.BFloat16));
        onKernels.Encoder.Continue(encoding, 1);
        var first = encoding.States[1].clone();
        onKernels.Encoder.Continue(encoding, 1);
        Assert.Equal(0, MaxError(encoding.States[1], first));
        Assert.Equal(0, MaxError(encoding.States[2], got[1]));
    }

    [Fact]
    public void One_query_attention_equals_sdpa_for_the_image_and_for_the_cache()
    {
        if (!CpuKernels.Fp32) return; // the model-level test below checks the fallback
        using var scope = NewDisposeScope();
        using var g = new Generator(5);
        var dtypes = CpuKernels.Bf16 ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float32];
        foreach (var dtype in dtypes)
            foreach (var (b, h, s, d) in new[] { (1, 1, 1, 16), (3, 2, 17, 16), (2, 3, 40, 32), (4, 2, 197, 64) })
            {
                string what = $"{dtype} b={b} h={h} s={s} d={d}";
                double tolerance = dtype == ScalarType.BFloat16 ? 2e-2 : 1e-5;
                var keys = Random(g, b, h, s, d).to(dtype);
                var values = Random(g, b, h, s, d).to(dtype);
                var q = Random(g, b, h * d);
                var output = empty(b, h * d);
                CpuKernels.Attend(q, keys, values, null, output);
                var qh = q.to(dtype).to(ScalarType.Float32).view(b, 1, h, d).transpose(1, 2);                      // [B, H, 1, D]
                var expected = F.scaled_dot_product_attention(qh, keys.to(ScalarType.Float32), values.to(ScalarType.Float32))
                    .transpose(1, 2).reshape(b, h * d);
                Assert.True(MaxError(output, expected) <= tolerance, $"{what}: cross, error {MaxError(output, expected)}");

                // Self-attention: each row's new key and value go to its own position, then it attends to 0..position.
                int capacity = s + 1;
                var cacheK = zeros(b, h, capacity, d, dtype: dtype);
                var cacheV = zeros(b, h, capacity, d, dtype: dtype);
                cacheK.narrow(2, 0, s).copy_(keys);
                cacheV.narrow(2, 0, s).copy_(values);
                var positions = Enumerable.Range(0, b).Select(i => (s - 1 - i * 3 % s + s) % s).ToArray();
                var qkv = Random(g, b, 3 * h * d);
                CpuKernels.Attend(qkv, cacheK, cacheV, positions, output);
                for (int i = 0; i < b; i++)
                {
                    int p = positions[i];
                    var newK = qkv[i].narrow(0, h * d, h * d).view(h, 1, d).to(dtype);
                    var newV = qkv[i].narrow(0, 2 * h * d, h * d).view(h, 1, d).to(dtype);
                    Assert.True(MaxError(cacheK[i].narrow(1, p, 1).to(ScalarType.Float32), newK.to(ScalarType.Float32)) == 0, $"{what}: key written at {p}");
                    Assert.True(MaxError(cacheV[i].narrow(1, p, 1).to(ScalarType.Float32), newV.to(ScalarType.Float32)) == 0, $"{what}: value written at {p}");
                    var rowQ = qkv[i].narrow(0, 0, h * d).to(dtype).to(ScalarType.Float32).view(h, 1, d);
                    var want = F.scaled_dot_product_attention(rowQ, cacheK[i].narrow(1, 0, p + 1).to(ScalarType.Float32), cacheV[i].narrow(1, 0, p + 1).to(ScalarType.Float32))
                        .reshape(h * d);
                    Assert.True(MaxError(output[i], want) <= tolerance, $"{what}: self row {i} at {p}, error {MaxError(output[i], want)}");
                }
            }
    }

    [Fact]
    public void Arg_max_and_its_log_probability_are_libtorchs()
    {
        if (!CpuKernels.Fp32) return;
        using var scope = NewDisposeScope();
        using var g = new Generator(13);
        foreach (var n in new[] { 1, 15, 17, 50257 })
        {
            var x = Random(g, 7, n).mul(4);
            if (n > 3)
            {
                x[1, 2] = x[1].max() + 1;                                   // a tie: the first column wins
                x[1, n - 1] = x[1, 2].clone();
                x[2] = x[2].index_fill(0, arange(0, n, 2), float.NegativeInfinity); // banned tokens
                x[3, n - 2] = float.NaN;                                    // a NaN wins, as in torch.argmax
                x[4, 1] = float.PositiveInfinity;
            }
            x[5].fill_(float.NegativeInfinity);                             // every token banned
            var (argMax, logProb) = CpuKernels.ArgMaxLogProbs(x);
            var want = x.argmax(-1).data<long>().ToArray();
            var wantLogProb = x.log_softmax(-1).gather(-1, x.argmax(-1).unsqueeze(-1)).squeeze(-1).data<float>().ToArray();
            Assert.Equal(want, argMax);
            for (int r = 0; r < 7; r++)
            {
                if (float.IsFinite(wantLogProb[r])) Assert.Equal(wantLogProb[r], logProb[r], tolerance: 1e-5 + 1e-6 * Math.Abs(wantLogProb[r]));
                else Assert.False(float.IsFinite(logProb[r]), $"n={n} row {r}: {logProb[r]} where libtorch has {wantLogProb[r]}");
            }
        }
        Assert.Throws<ArgumentException>(() => CpuKernels.ArgMaxLogProbs(ones(2, 3, dtype: ScalarType.BFloat16)));
    }

    [Fact]
    public void Top_k_finds_the_k_largest_of_each_row()
    {
        if (!CpuKernels.Fp32) return;
        using var scope = NewDisposeScope();
        using var g = new Generator(9);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 40, 32), (5, 50257, 32), (2, 100, 100) })
        {
            var x = Random(g, m, n);
            x.index_put_(tensor(1e6f), TensorIndex.Single(0), TensorIndex.Single(n - 1)); // the largest at the very end
            var found = CpuKernels.TopK(x, k);
            var wantValues = x.topk(k, dim: -1).values.sort(-1).Values;
            var gotValues = x.gather(-1, found).sort(-1).Values;
            Assert.True(MaxError(gotValues, wantValues) == 0, $"m={m} n={n} k={k}");
            Assert.Equal(new long[] { m, k }, found.shape);
            for (int r = 0; r < m; r++) Assert.Equal(k, found[r].unique().output.numel());
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void Captions_on_the_kernels_are_libtorchs_captions(string precision)
    {
        // In bf16, libtorch's linear layers round their outputs to bf16 where the kernels keep the fp32 sums:
        // near-tied logits can flip either way, so bf16 is checked on the trained demo model, with pictures of the
        // kind it was trained on and captions that end at its end token (past it, or on noise, its logits are near-ties).
        var reference = precision == "bf16" ? Checkpoint.Load(Path.Combine(RepositoryRoot(), "checkpoints", "demo-shapes")) : Tiny(Presets.Tiny, seed: 12);
        reference.eval();
        var config = reference.Config;
        var onKernels = SameWeights(reference); // not a second Tiny(seed): torch's global generator is shared by tests running at once
        var exact = SameWeights(reference);
        if (precision == "bf16")
        {
            reference.ToMixedPrecision(ScalarType.BFloat16);
            onKernels.ToMixedPrecision(ScalarType.BFloat16);
        }
        onKernels.UseCpuKernels();
        Assert.StartsWith("off: not requested", reference.KernelStatus);
        if (!CpuKernels.Supports(onKernels.DType))
        {
            Assert.StartsWith("off: ", onKernels.KernelStatus);
            return;
        }
        Assert.StartsWith("on: ", onKernels.KernelStatus);

        using var pixels = precision == "bf16" ? Shapes(config) : Pixels(config, 5, 8);
        var options = new DecodingOptions { MaxNewTokens = 9, StopAtEos = precision == "bf16" };
        var beam = options with { Strategy = DecodingStrategy.Beam, NumBeams = 3, MaxNewTokens = 6 };
        foreach (var o in new[] { options, beam })
        {
            var want = new CaptionGenerator(reference).Generate(pixels, o);
            var got = new CaptionGenerator(onKernels).Generate(pixels, o);
            Assert.Equal(want.Select(c => c.Tokens), got.Select(c => c.Tokens));
            // Scores are sums of log-probabilities. In bf16 both ways round differently (libtorch's outputs, the kernels'
            // inputs): the kernels' scores are within 1 % of fp32's, as libtorch's are.
            var fp32 = new CaptionGenerator(exact).Generate(pixels, o);
            for (int i = 0; i < want.Count; i++)
            {
                if (precision == "fp32")
                {
                    Assert.Equal(want[i].Score, got[i].Score, tolerance: Math.Max(0.01, 0.01 * Math.Abs(want[i].Score)));
                    continue;
                }
                Assert.Equal(fp32[i].Tokens, got[i].Tokens);
                double tolerance = Math.Max(0.01, 0.01 * Math.Abs(fp32[i].Score));
                Assert.True(Math.Abs(got[i].Score - fp32[i].Score) <= tolerance && Math.Abs(want[i].Score - fp32[i].Score) <= tolerance,
                    $"caption {i}: fp32 {fp32[i].Score}, libtorch bf16 {want[i].Score}, kernels {got[i].Score}");
            }
        }

        // Rows of different lengths (captions joining a running batch) and rows leaving it.
        IReadOnlyList<int[]> Staggered(Captioner model)
        {
            var groups = Enumerable.Range(0, 5).Select(i => DecodingGroup.For(config, i == 2 ? beam : options with { MaxNewTokens = 4 + i })).ToList();
            using var batch = new DecodingBatch(model, capacity: 12);
            for (int i = 0; i < groups.Count; i++)
            {
                batch.Admit(pixels[i..(i + 1)], [groups[i]]);
                batch.Step();
            }
            while (!batch.IsEmpty) batch.Step();
            var tokens = groups.Select(g => g.Result.Tokens).ToList();
            foreach (var group in groups) group.Dispose();
            return tokens;
        }
        Assert.Equal(Staggered(reference), Staggered(onKernels));
    }

    /// <summary>Five pictures like the demo's training set: a coloured square on a grey ground, here and there.</summary>
    private static Tensor Shapes(ModelConfig config)
    {
        var preprocessor = new CaptionService.Model.Imaging.ImagePreprocessor(config);
        (byte R, byte G, byte B)[] colours = [(220, 30, 30), (30, 60, 220), (40, 180, 60), (240, 200, 20), (150, 40, 170)];
        var images = colours.Select((c, i) =>
        {
            using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(96, 96, new(128, 128, 128));
            int x0 = 10 + 15 * i, y0 = 60 - 12 * i;
            for (int y = y0; y < y0 + 24; y++)
                for (int x = x0; x < x0 + 24; x++)
                    image[x, y] = new(c.R, c.G, c.B);
            return preprocessor.ToChw(image);
        }).ToList();
        return preprocessor.ToBatch(images);
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "CaptionService.sln"))) return d.FullName;
        throw new InvalidOperationException($"No CaptionService.sln above {AppContext.BaseDirectory}");
    }

    private static Captioner SameWeights(Captioner source)
    {
        var copy = new Captioner(source.Config, initialize: false);
        using (no_grad())
        {
            var from = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            foreach (var (name, p) in copy.named_parameters()) p.copy_(from[name]);
        }
        copy.eval();
        return copy;
    }

    [Fact]
    public void A_model_says_why_its_steps_stay_on_libtorch()
    {
        var wholeBf16 = Tiny(seed: 1);
        wholeBf16.to(ScalarType.BFloat16);
        Assert.StartsWith("off: the residual stream is bf16", wholeBf16.UseCpuKernels().KernelStatus);

        var fp32 = Tiny(seed: 1).UseCpuKernels();
        if (CpuKernels.Fp32) Assert.EndsWith("the encoder on libtorch (its linear layers are fp32 (its kernels take bf16))", fp32.KernelStatus);

        var narrowHeads = new Captioner(Presets.Tiny with { DecoderHeads = 8 });
        narrowHeads.eval();
        var status = narrowHeads.UseCpuKernels().KernelStatus;
        Assert.StartsWith("off: ", status);
        if (CpuKernels.Fp32) Assert.Contains("multiple of 16 dimensions (these have 8)", status);
    }
}
