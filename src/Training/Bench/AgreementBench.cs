using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Generation;
using CaptionService.Training.Data.Synthetic;
using static TorchSharp.torch;

namespace CaptionService.Training.Bench;

/// <summary>
/// How often a lower precision gives the same greedy caption as fp32: a trained checkpoint (default:
/// the demo checkpoint) captions the test split of the seed-1, 24000-image, 96 px synthetic set that
/// <c>tools/make-demo-checkpoint.sh</c> trains on (rendered in memory) in fp32 and in
/// each other precision, with libtorch's ops and on the CPU kernels (as the service runs it by default on
/// a CPU that has them); captions count as identical when every token is.
/// </summary>
public static class AgreementBench
{
    public const int SynthSeed = 1, SynthImages = 24000, SynthSize = 96;

    public sealed record Result(BenchPrecision Precision, bool Kernels, int Images, int Identical, double Fp32Seconds, double Seconds);

    public static List<Result> Run(string checkpoint, Device device, IEnumerable<BenchPrecision> precisions, IEnumerable<bool> kernels, int images, int batch = 32)
    {
        var fp32 = Checkpoint.Load(checkpoint, device, ScalarType.Float32);
        var pipeline = new CaptionPipeline(fp32);
        var (start, count) = SynthData.SplitRange(SynthImages, "test");
        var chw = Enumerable.Range(start, Math.Min(images, count)).Select(i =>
        {
            var (_, image) = SynthData.Render(SynthSeed, i, SynthSize);
            using (image) return pipeline.Preprocessor.ToChw(image);
        }).ToList();
        var options = fp32.Config.Decoding with { Strategy = DecodingStrategy.Greedy };

        (List<int[]> Captions, double Seconds) Caption(Captioner model)
        {
            var generator = new CaptionGenerator(model);
            var captions = new List<int[]>();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            foreach (var chunk in chw.Chunk(batch))
            {
                using var scope = NewDisposeScope();
                captions.AddRange(generator.Generate(pipeline.Preprocessor.ToBatch(chunk), options).Select(s => s.Tokens));
            }
            return (captions, watch.Elapsed.TotalSeconds);
        }

        var (reference, fp32Seconds) = Caption(fp32);
        var results = new List<Result>();
        foreach (var (precision, onKernels) in precisions.SelectMany(p => kernels.Select(k => (p, k))))
        {
            var model = SpeedBench.Convert(fp32, precision);
            if (!onKernels || model.UseCpuKernels().KernelStatus.StartsWith("on", StringComparison.Ordinal))
            {
                var (captions, seconds) = Caption(model);
                int identical = captions.Zip(reference).Count(p => p.First.SequenceEqual(p.Second));
                results.Add(new Result(precision, onKernels, chw.Count, identical, fp32Seconds, seconds));
            }
            model.Dispose();
        }
        fp32.Dispose();
        return results;
    }
}
