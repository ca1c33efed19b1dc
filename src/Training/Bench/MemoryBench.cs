using CaptionService.Model;
using CaptionService.Model.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>
/// Peak memory of one batched caption run per batch size, and the largest batch a memory budget
/// allows, from a straight line through the measured peaks (peak = fixed + per-image × batch).
/// CPU: the process's peak resident memory, its high-water mark reset before each run. CUDA: the
/// peak of allocated GPU memory, reset before each run (<see cref="CudaMemory"/>; needs PyTorch's
/// cudaMallocAsync backend).
/// </summary>
public static class MemoryBench
{
    public sealed record Point(int Batch, long PeakBytes, long BeforeBytes);

    public static bool Supported(Device device) => device.type == DeviceType.CUDA ? CudaMemory.Supported : ProcessMemory.Supported;

    public static List<Point> PeakPerBatch(Captioner model, Tensor pixels, IEnumerable<int> batchSizes, int tokens)
    {
        bool cuda = model.Device.type == DeviceType.CUDA;
        int device = Math.Max(0, (int)model.Device.index);
        var generator = new CaptionGenerator(model);
        var options = model.Config.Decoding with { Strategy = DecodingStrategy.Greedy, MaxNewTokens = tokens, StopAtEos = false };
        var points = new List<Point>();
        foreach (int batch in batchSizes.Order())
        {
            Stopwatches.Sync(model.Device);
            if (cuda) CudaMemory.ResetPeak(device);
            else ProcessMemory.ResetPeak();
            long before = cuda ? CudaMemory.Used(device) : ProcessMemory.Resident();
            using (NewDisposeScope()) generator.Generate(pixels.narrow(0, 0, batch), options);
            Stopwatches.Sync(model.Device);
            points.Add(new Point(batch, cuda ? CudaMemory.Peak(device) : ProcessMemory.Peak(), before));
        }
        return points;
    }

    /// <summary>Least-squares line through (batch, peak); null with fewer than two batch sizes.</summary>
    public static (double Fixed, double PerImage)? Fit(IReadOnlyList<Point> points)
    {
        if (points.Count < 2) return null;
        double mx = points.Average(p => (double)p.Batch), my = points.Average(p => (double)p.PeakBytes);
        double sxx = points.Sum(p => (p.Batch - mx) * (p.Batch - mx));
        if (sxx == 0) return null;
        double slope = points.Sum(p => (p.Batch - mx) * (p.PeakBytes - my)) / sxx;
        return (my - slope * mx, slope);
    }

    /// <summary>The largest batch whose fitted peak stays within <paramref name="budget"/> bytes (0: none fits).</summary>
    public static long LargestBatch((double Fixed, double PerImage) line, long budget) =>
        line.PerImage <= 0 ? long.MaxValue : Math.Max(0, (long)Math.Floor((budget - line.Fixed) / line.PerImage));
}
