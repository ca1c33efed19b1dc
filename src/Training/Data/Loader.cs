using System.Diagnostics;
using System.Threading.Channels;
using CaptionService.Model.Imaging;
using CaptionService.Model.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data;

/// <summary>What one epoch shows of an image with several reference captions.</summary>
public enum CaptionSampling
{
    /// <summary>Every reference caption is a sample (the seed's way): an image is seen once per caption.</summary>
    Each,
    /// <summary>Each image is one sample, with one of its captions drawn anew every epoch: the encoder runs once per
    /// image, not once per caption (about 5 times less work per epoch on COCO-style sets).</summary>
    One,
    /// <summary>Each image is one sample with all of its captions: the encoder runs once per image and its output
    /// serves every caption (<c>seq_per_img</c> in the self-critical captioning code). The batch size counts images.</summary>
    All,
}

/// <param name="Workers">Threads decoding and augmenting images ahead of the model.</param>
/// <param name="Prefetch">Batches ready and waiting at most (the bounded queue).</param>
public sealed record LoaderOptions(int BatchSize, int MaxLength, AugmentOptions Augment, int Seed, int Workers = 2, int Prefetch = 4,
    CaptionSampling Captions = CaptionSampling.Each);

/// <summary>
/// Turns (image, caption) pairs into padded batches ahead of the training step: a producer
/// decodes and augments each batch's images in parallel and puts finished batches in a bounded
/// queue. The order and every augmentation follow from (seed, epoch, position) alone, so a
/// resumed run sees exactly the batches it would have seen.
/// </summary>
public sealed class Loader(IReadOnlyList<CaptionedImage> images, ImagePreprocessor preprocessor, CaptionTokenizer tokenizer,
    LoaderOptions options, bool train)
{
    /// <summary>(image, caption index): every pair, as in the seed; or each image once (index -1: one drawn per epoch, or all).</summary>
    private readonly (CaptionedImage Image, int Caption)[] samples = options.Captions == CaptionSampling.Each
        ? images.SelectMany(i => i.Captions.Select((_, c) => (i, c))).ToArray()
        : images.Select(i => (i, -1)).ToArray();

    public int Samples => samples.Length;
    public int BatchesPerEpoch => (samples.Length + options.BatchSize - 1) / options.BatchSize;

    /// <summary>Time the consumer spent waiting for batches in the last epoch enumerated.</summary>
    public TimeSpan Waited { get; private set; }

    /// <summary>The batches of one epoch, from <paramref name="skip"/> on. Dispose each batch after use.</summary>
    public IEnumerable<Batch> Epoch(int epoch, int skip = 0, CancellationToken cancel = default)
    {
        var order = Enumerable.Range(0, samples.Length).ToArray();
        if (train) new Random(Seed(options.Seed, epoch, -1)).Shuffle(order);
        var queue = Channel.CreateBounded<Batch>(new BoundedChannelOptions(Math.Max(1, options.Prefetch)) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var producer = Task.Run(async () =>
        {
            try
            {
                for (int b = skip; b < BatchesPerEpoch; b++)
                    await queue.Writer.WriteAsync(Make(order, epoch, b), stop.Token);
                queue.Writer.Complete();
            }
            catch (Exception e)
            {
                // Parallel.For wraps a worker's exception: hand the training loop the one that names the file.
                queue.Writer.Complete(e is AggregateException a ? a.Flatten().InnerExceptions[0] : e);
            }
        });

        Waited = TimeSpan.Zero;
        try
        {
            while (true)
            {
                var watch = Stopwatch.StartNew();
                var more = queue.Reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult();
                Waited += watch.Elapsed;
                if (!more) break;
                while (queue.Reader.TryRead(out var batch)) yield return batch;
            }
        }
        finally
        {
            stop.Cancel();
            try { producer.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
            while (queue.Reader.TryRead(out var left)) left.Dispose();
        }
    }

    private Batch Make(int[] order, int epoch, int batch)
    {
        int start = batch * options.BatchSize, count = Math.Min(options.BatchSize, samples.Length - start);
        var pixels = new float[count][];
        var captions = new IReadOnlyList<string>[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Workers) }, i =>
        {
            int index = order[start + i];
            var (image, which) = samples[index];
            var rng = new Random(Seed(options.Seed, epoch, start + i));
            IReadOnlyList<string> chosen = options.Captions == CaptionSampling.All ? image.Captions
                : [image.Captions[which >= 0 ? which : rng.Next(image.Captions.Count)]];
            using var decoded = Decode(image.ImagePath);
            if (train)
                chosen = Augment.Apply(decoded, chosen, options.Augment, rng);
            pixels[i] = preprocessor.ToChw(decoded);
            captions[i] = chosen;
        });
        return Collate.Make(pixels, captions, tokenizer, preprocessor.ImageSize, options.MaxLength);
    }

    private Image<Rgb24> Decode(string path)
    {
        try
        {
            return preprocessor.Decode(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageRejectedException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>A stable seed from (run seed, epoch, position): the same in every process.</summary>
    private static int Seed(int seed, int epoch, int position) =>
        unchecked((int)(((uint)seed * 2654435761u) ^ ((uint)epoch * 40503u + 1) * 2246822519u ^ (uint)(position + 1) * 3266489917u));
}
