using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>Wall-clock seconds of the measured repetitions (warm-up runs are not kept).</summary>
public sealed record Timing(IReadOnlyList<double> Seconds)
{
    public double Median
    {
        get
        {
            var s = Seconds.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }

    public double Min => Seconds.Min();
    public double Max => Seconds.Max();

    /// <summary>"1.234 s (1.200-1.300, n=3)"</summary>
    public string Describe() => FormattableString.Invariant($"{Median:F3} s ({Min:F3}-{Max:F3}, n={Seconds.Count})");
}

/// <summary>
/// Plain stopwatch loops: warm-up runs, then timed repetitions, each ending with the device idle
/// (CUDA is synchronized), each inside its own dispose scope so no tensor outlives its run.
/// </summary>
public static class Stopwatches
{
    public static Timing Measure(Action run, int warmup, int repeats, Device? device = null)
    {
        for (int i = 0; i < warmup; i++) Once(run, device);
        var seconds = new List<double>();
        for (int i = 0; i < Math.Max(1, repeats); i++) seconds.Add(Once(run, device));
        return new Timing(seconds);
    }

    private static double Once(Action run, Device? device)
    {
        Sync(device);
        var watch = Stopwatch.StartNew();
        using (NewDisposeScope()) run();
        Sync(device);
        return watch.Elapsed.TotalSeconds;
    }

    public static void Sync(Device? device)
    {
        if (device is { type: DeviceType.CUDA }) cuda.synchronize();
    }
}
