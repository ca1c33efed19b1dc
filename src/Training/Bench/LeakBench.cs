using CaptionService.Model;
using CaptionService.Model.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>Steady state: many captions in a row, with the count of live tensors (TorchSharp's
/// per-thread statistics) and the resident memory sampled as they go. Neither should grow.</summary>
public static class LeakBench
{
    public sealed record Sample(int Captions, long LiveTensors, long ResidentBytes);

    public static List<Sample> Run(Captioner model, Tensor pixels, int captions, int batch, int tokens, int samples = 5)
    {
        var generator = new CaptionGenerator(model);
        var options = model.Config.Decoding with { Strategy = DecodingStrategy.Greedy, MaxNewTokens = tokens, StopAtEos = false };
        var images = pixels.narrow(0, 0, Math.Min(batch, (int)pixels.shape[0]));
        int perCall = (int)images.shape[0];
        using (NewDisposeScope()) generator.Generate(images, options); // warm-up, not counted
        var stats = DisposeScopeManager.Statistics;
        var result = new List<Sample> { new(0, stats.ThreadTotalLiveCount, Resident()) };
        int calls = (captions + perCall - 1) / perCall, every = Math.Max(1, calls / samples);
        for (int call = 1; call <= calls; call++)
        {
            using (NewDisposeScope()) generator.Generate(images, options);
            if (call % every == 0 || call == calls)
                result.Add(new Sample(call * perCall, stats.ThreadTotalLiveCount, Resident()));
        }
        return result;
    }

    private static long Resident() => ProcessMemory.Supported ? ProcessMemory.Resident() : 0;
}
