using System.Globalization;
using CaptionService.Model.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Training.Bench;

/// <summary>
/// <c>captioner bench resize</c>: the Pillow-exact resize (<see cref="Resampler"/>) against the ImageSharp bicubic that
/// every image got before checkpoints recorded their preprocessing, side by side in one process, at a few picture
/// sizes, to the model's 224 x 224. Ours runs on the calling thread; ImageSharp's is timed on one thread and on all
/// cores (its default, which the service used). The JPEG decode of the same picture is timed too, for scale.
/// </summary>
public static class ResizeBench
{
    public static BenchReport Run(IReadOnlyList<(int Width, int Height)> sizes, int target, int repeats, string command, TextWriter output)
    {
        var report = new BenchReport("resize");
        string when = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture);
        report.Header.Add($"Measured {when} UTC with `{command}` on {Environment.ProcessorCount} cores (load average {LoadAverage()}); " +
            $"median of {repeats} runs, taken in turns after 0.5 s of warm-up turns, ms per image to {target} x {target}.");

        var table = new BenchTable($"Resize to {target} x {target}, ms per image (median)",
            "picture", "JPEG decode", "ImageSharp bicubic (old), 1 thread", $"same, {Environment.ProcessorCount} threads",
            "Pillow bilinear (ours)", "Pillow bicubic (ours)", "Pillow lanczos (ours)", "bilinear / old (1 thread)", "bicubic / old (1 thread)");
        var oneThread = Configuration.Default.Clone();
        oneThread.MaxDegreeOfParallelism = 1;
        foreach (var (w, h) in sizes)
        {
            using var picture = Picture(w, h);
            using var single = picture.Clone(oneThread);
            byte[] jpeg;
            using (var stream = new MemoryStream())
            {
                picture.SaveAsJpeg(stream);
                jpeg = stream.ToArray();
            }
            Action[] runs =
            [
                () => Image.Load<Rgb24>(jpeg).Dispose(),
                () => single.Clone(x => x.Resize(target, target, KnownResamplers.Bicubic)).Dispose(),
                () => picture.Clone(x => x.Resize(target, target, KnownResamplers.Bicubic)).Dispose(),
                () => Resampler.Resize(picture, target, target, ResampleFilter.Bilinear).Dispose(),
                () => Resampler.Resize(picture, target, target, ResampleFilter.Bicubic).Dispose(),
                () => Resampler.Resize(picture, target, target, ResampleFilter.Lanczos).Dispose(),
            ];
            var ms = Measure(runs, repeats);
            var (decode, old, oldParallel, bilinear, bicubic, lanczos) = (ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]);
            table.Add($"{w} x {h}", F(decode), F(old), F(oldParallel), F(bilinear), F(bicubic), F(lanczos),
                (bilinear / old).ToString("F2", CultureInfo.InvariantCulture), (bicubic / old).ToString("F2", CultureInfo.InvariantCulture));
        }
        table.Notes.Add("Pictures are drawn (gradients, sharp-edged blocks, noise) and the decode is of the same picture saved as JPEG (ImageSharp's default quality).");
        table.Notes.Add("ImageSharp's resize is float arithmetic, vectorized, and by default spreads rows over every core (the service's configuration did); " +
            "ours is Pillow's integer arithmetic (needed for Pillow's pixels), vectorized, on the calling thread: a request's own thread.");
        report.Tables.Add(table);
        BenchReport.Print(table, output);
        return report;
    }

    /// <summary>Median ms of each run, timed in turns (so that a change in the machine's load hits all alike) after
    /// half a second of warm-up turns: the JIT's optimized tier replaces first code only after 30 calls and a 100 ms
    /// delay, which a service that has run a while is long past.</summary>
    private static double[] Measure(Action[] runs, int repeats)
    {
        var warm = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 500 && (i < 3 || warm.Elapsed < TimeSpan.FromSeconds(0.5)); i++)
            foreach (var run in runs) run();
        var seconds = runs.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < repeats; r++)
            for (int k = 0; k < runs.Length; k++)
                seconds[k].Add(Stopwatches.Measure(runs[k], warmup: 0, repeats: 1).Median);
        return seconds.Select(s => new Timing(s).Median * 1000).ToArray();
    }

    private static string F(double ms) => ms.ToString(ms < 10 ? "F2" : "F1", CultureInfo.InvariantCulture);

    /// <summary>A photo stand-in: smooth gradients, sharp-edged blocks and a band of noise.</summary>
    private static Image<Rgb24> Picture(int width, int height)
    {
        var rng = new Random(width * 31 + height);
        var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++)
                    row[x] = (x * 8 / width + y * 6 / height) % 3 == 0 ? new Rgb24(200, 30, 40)
                        : y % 97 < 5 ? new Rgb24((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256))
                        : new Rgb24((byte)(x * 255 / width), (byte)(y * 255 / height), 120);
            }
        });
        return image;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
