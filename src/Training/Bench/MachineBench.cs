using CaptionService.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>The machine's limit: square matmul throughput per dtype, the best of a few sizes.</summary>
public static class MachineBench
{
    public sealed record MatmulResult(ScalarType DType, int Size, double GflopsPerSecond, Timing Timing);

    /// <param name="sizes">square sizes n (n x n times n x n, 2n³ FLOPs)</param>
    public static List<MatmulResult> Matmul(Device device, ScalarType dtype, IEnumerable<int> sizes, int warmup, int repeats)
    {
        var results = new List<MatmulResult>();
        foreach (int n in sizes)
        {
            using var scope = NewDisposeScope();
            using var g = new TorchSharp.torch.Generator(7); // a CPU generator (TorchSharp's are), the data then moved
            var a = randn([n, n], generator: g).to(dtype, device);
            var b = randn([n, n], generator: g).to(dtype, device);
            // Enough products per repetition that one repetition takes a measurable time (a GPU is ~1000x faster).
            double flopsPerRepetition = device.type == DeviceType.CUDA ? 4e12 : 4e9;
            int inner = Math.Max(1, (int)Math.Round(flopsPerRepetition / (2.0 * n * n * n)));
            var timing = Stopwatches.Measure(() => { for (int i = 0; i < inner; i++) a.matmul(b).Dispose(); }, warmup, repeats, device);
            results.Add(new MatmulResult(dtype, n, inner * 2.0 * n * n * n / timing.Median / 1e9, timing));
        }
        return results;
    }

    /// <summary>Read bandwidth: the sum of a 512 MiB float32 tensor, GB/s (10^9 bytes).</summary>
    public static double ReadBandwidth(Device device, int warmup, int repeats)
    {
        using var scope = NewDisposeScope();
        long n = 128L << 20;
        var a = ones(n, device: device);
        var timing = Stopwatches.Measure(() => a.sum(), warmup, repeats, device);
        return n * 4.0 / timing.Median / 1e9;
    }

    public static string Threads() =>
        $"torch threads {TorchSharp.torch.get_num_threads()}, interop threads {TorchSharp.torch.get_num_interop_threads()}, {Environment.ProcessorCount} logical CPUs";
}
