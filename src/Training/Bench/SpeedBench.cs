using System.Diagnostics;
using CaptionService.Model;
using CaptionService.Model.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>Captions per second, the seed's way against ours, and how close the encoder and the
/// decode step come to the machine's matmul throughput. Same weights, same images, same number of
/// tokens (the end token is banned, so every caption is exactly <see cref="BenchSettings.Tokens"/> long).</summary>
public sealed class SpeedBench(Captioner model, Tensor pixels, BenchSettings settings)
{
    private readonly ModelConfig config = model.Config;
    private readonly CaptionGenerator generator = new(model);

    private DecodingOptions Options => config.Decoding with
    {
        Strategy = DecodingStrategy.Greedy,
        MaxNewTokens = settings.Tokens,
        StopAtEos = false,
        NoRepeatNgramSize = 0,
    };

    /// <summary>The seed's way: one image at a time, the whole ViT and the whole decoder for every token.
    /// Each repetition is a different image (0, 1, ...); returns the timing per caption and every caption.</summary>
    public (Timing Timing, List<int[]> Captions) SeedWay(int captions, int warmup)
    {
        // The warm-up decodes a short caption: the full-size seed way takes seconds per token.
        for (int i = 0; i < warmup; i++)
            using (NewDisposeScope()) generator.GreedyByRecompute(pixels.narrow(0, 0, 1), Math.Min(2, settings.Tokens), reencodeEachStep: true, stopAtEos: false);
        var seconds = new List<double>();
        var results = new List<int[]>();
        for (int i = 0; i < captions; i++)
        {
            using var scope = NewDisposeScope();
            var image = pixels.narrow(0, i % pixels.shape[0], 1);
            var watch = Stopwatch.StartNew();
            var caption = generator.GreedyByRecompute(image, settings.Tokens, reencodeEachStep: true, stopAtEos: false);
            seconds.Add(watch.Elapsed.TotalSeconds);
            results.Add(caption[0].Tokens);
        }
        return (new Timing(seconds), results);
    }

    /// <summary>Ours: <paramref name="batch"/> images (the first ones) through <see cref="CaptionGenerator.Generate"/>.</summary>
    public (Timing Timing, List<int[]> Captions) Ours(int batch, int warmup, int repeats)
    {
        List<int[]> captions = [];
        var images = pixels.narrow(0, 0, batch);
        var timing = Stopwatches.Measure(() => captions = generator.Generate(images, Options).Select(s => s.Tokens).ToList(), warmup, repeats, model.Device);
        return (timing, captions);
    }

    /// <summary>The ViT alone on <paramref name="batch"/> images.</summary>
    public Timing Encoder(int batch, int warmup, int repeats)
    {
        var images = pixels.narrow(0, 0, batch);
        using var mode = inference_mode();
        return Stopwatches.Measure(() => model.Encode(images.to(model.DType, model.Device)), warmup, repeats, model.Device);
    }

    /// <summary>Cached decode steps at <paramref name="batch"/>: the encoder and the cross keys/values
    /// are computed outside the clock; each repetition times <see cref="BenchSettings.Tokens"/> steps.
    /// Returns seconds per step (median over repetitions) and matmul FLOPs per step (averaged).</summary>
    public (Timing PerStep, double FlopsPerStep) DecodeSteps(int batch, int warmup, int repeats)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var states = model.Encode(pixels.narrow(0, 0, batch).to(model.DType, model.Device));
        int tokens = settings.Tokens;
        var seconds = new List<double>();
        for (int r = 0; r < warmup + repeats; r++)
        {
            using var repScope = NewDisposeScope();
            using var cache = model.StartDecoding(states, tokens);
            var next = tensor(Enumerable.Repeat((long)config.BosTokenId, batch).ToArray(), device: model.Device); // no implicit Scalar
            Stopwatches.Sync(model.Device);
            var watch = Stopwatch.StartNew();
            for (int t = 0; t < tokens; t++)
            {
                using var stepScope = NewDisposeScope();
                next = model.Step(next, cache).argmax(-1).MoveToOuterDisposeScope();
            }
            _ = next.cpu();
            if (r >= warmup) seconds.Add(watch.Elapsed.TotalSeconds / tokens);
        }
        double flops = batch * Enumerable.Range(1, tokens).Average(t => FlopCount.DecodeStepPerToken(config, t));
        return (new Timing(seconds), flops);
    }

    /// <summary>A copy of <paramref name="source"/>'s (float32) weights in another precision.</summary>
    public static Captioner Convert(Captioner source, BenchPrecision precision)
    {
        var copy = new Captioner(source.Config, initialize: false);
        copy.to(source.Device);
        using (no_grad())
        {
            var from = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
            foreach (var (name, p) in copy.named_parameters()) p.copy_(from[name]);
        }
        if (precision.Mixed) copy.ToMixedPrecision(precision.DType);
        else copy.to(precision.DType);
        copy.eval();
        return copy;
    }
}
