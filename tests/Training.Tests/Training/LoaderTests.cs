using CaptionService.Model;
using CaptionService.Model.Imaging;
using CaptionService.Model.Text;
using CaptionService.Training.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Tests.Training;

public sealed class LoaderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("loader-").FullName;
    private readonly List<CaptionedImage> images = [];

    public LoaderTests()
    {
        for (int i = 0; i < 7; i++)
        {
            var path = Path.Combine(dir, $"{i}.png");
            using (var image = new Image<Rgb24>(40, 40, new Rgb24((byte)(i * 30), 100, 200)))
                image.SaveAsPng(path);
            images.Add(new CaptionedImage(i.ToString(), path, [$"picture number {i} on the left", $"image {i} with the left side up"], null));
        }
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private Loader Make(bool train, int seed = 1, CaptionSampling captions = CaptionSampling.Each) => new(images,
        new ImagePreprocessor(Presets.Tiny), CaptionTokenizer.Default,
        new LoaderOptions(BatchSize: 4, MaxLength: 16, new AugmentOptions(), seed, Workers: 2, Prefetch: 2, captions), train);

    private static List<(float[] Pixels, long[] Input)> Drain(IEnumerable<Batch> batches) =>
        batches.Select(b =>
        {
            using (b) return (b.Pixels.data<float>().ToArray(), b.Input.data<long>().ToArray());
        }).ToList();

    [Fact]
    public void Every_caption_is_a_sample_in_batches()
    {
        var loader = Make(train: true);
        Assert.Equal(14, loader.Samples);
        Assert.Equal(4, loader.BatchesPerEpoch);
        var batches = Drain(loader.Epoch(0));
        Assert.Equal(4, batches.Count);
        Assert.Equal(3 * 32 * 32 * 2, batches[^1].Pixels.Length); // 14 = 4 + 4 + 4 + 2
    }

    [Fact]
    public void An_epoch_is_reproducible_and_resuming_mid_epoch_gives_the_same_rest()
    {
        var first = Drain(Make(train: true).Epoch(3));
        var again = Drain(Make(train: true).Epoch(3));
        Assert.Equal(first.Select(b => b.Input), again.Select(b => b.Input));
        Assert.Equal(first.Select(b => b.Pixels), again.Select(b => b.Pixels));
        var tail = Drain(Make(train: true).Epoch(3, skip: 2));
        Assert.Equal(first.Skip(2).Select(b => b.Pixels), tail.Select(b => b.Pixels));

        var otherEpoch = Drain(Make(train: true).Epoch(4));
        Assert.NotEqual(first.Select(b => b.Input), otherEpoch.Select(b => b.Input));
    }

    [Fact]
    public void Validation_batches_keep_file_order_and_are_not_augmented()
    {
        var a = Drain(Make(train: false).Epoch(0));
        var b = Drain(Make(train: false, seed: 99).Epoch(5));
        Assert.Equal(a.Select(x => x.Pixels), b.Select(x => x.Pixels));
        // The first sample is image 0's first caption, unflipped.
        var tokens = CaptionTokenizer.Default.Encode("picture number 0 on the left");
        Assert.Equal(tokens.Select(t => (long)t), a[0].Input.Skip(1).Take(tokens.Count));
    }

    [Fact]
    public void Leaving_an_epoch_early_stops_the_producer()
    {
        var loader = Make(train: true);
        using (var first = loader.Epoch(0).First()) Assert.Equal(4, first.Input.shape[0]);
        Assert.Equal(4, Drain(loader.Epoch(0)).Count); // the loader is usable again
    }

    [Fact]
    public void All_captions_of_an_image_share_its_one_encoding_and_its_flip()
    {
        var loader = Make(train: true, captions: CaptionSampling.All);
        Assert.Equal(7, loader.Samples);
        Assert.Equal(2, loader.BatchesPerEpoch);
        var tokenizer = CaptionTokenizer.Default;
        int flipped = 0, seen = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
            {
                long count = batch.Pixels.shape[0];
                Assert.Equal(2 * count, batch.Input.shape[0]); // two captions per image
                Assert.NotNull(batch.ImageOfCaption);
                var imageOf = batch.ImageOfCaption!.data<long>().ToArray();
                Assert.Equal(Enumerable.Range(0, (int)count).SelectMany(i => new long[] { i, i }), imageOf);
                long t = batch.Input.shape[1];
                var input = batch.Input.data<long>().ToArray();
                for (int i = 0; i < count; i++)
                {
                    // An image's captions stay together, in order, and a flip of the image swaps left and right in each.
                    var first = tokenizer.Decode(input.Skip((int)(2 * i * t) + 1).Take((int)t - 1).Select(x => (int)x).Where(x => x != tokenizer.PadId).ToArray());
                    var second = tokenizer.Decode(input.Skip((int)((2 * i + 1) * t) + 1).Take((int)t - 1).Select(x => (int)x).Where(x => x != tokenizer.PadId).ToArray());
                    var number = second.Split(' ')[1];
                    Assert.StartsWith($"picture number {number} on the ", first);
                    Assert.Equal($"image {number} with the {first.Split(' ')[^1]} side up", second);
                    if (first.EndsWith("right")) flipped++;
                    seen++;
                }
            }
        }
        Assert.Equal(7, seen);
        Assert.InRange(flipped, 1, 6); // p = 0.5 per image: seed 1 flips some images and not others
    }
}
