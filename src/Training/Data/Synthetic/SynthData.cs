using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Data.Synthetic;

/// <summary>What <see cref="SynthData.Generate"/> wrote.</summary>
/// <param name="Files">The three COCO caption files, by split: train, val, test.</param>
/// <param name="Images">Images per split.</param>
public sealed record SynthDataSummary(IReadOnlyDictionary<string, string> Files, IReadOnlyDictionary<string, int> Images, int Captions);

/// <summary>
/// A synthetic captioning set of coloured shapes (<see cref="SynthScene"/>, <see cref="SceneRenderer"/>,
/// <see cref="SceneCaptions"/>): PNGs under <c>DIR/images/</c> and COCO caption files
/// <c>DIR/captions_{train,val,test}.json</c> (80/10/10 by image), whose <c>file_name</c>s ("images/000000.png")
/// resolve against the JSON's folder, so <c>DatasetReader.Read("DIR/captions_train.json")</c> needs no options.
/// Each image record carries its <c>split</c>, so every file is a file with its own split. Everything follows from
/// the seed: image <c>i</c> (id i + 1) is <see cref="SceneFor"/>(seed, i), and the same seed gives byte-identical
/// files.
/// </summary>
public static class SynthData
{
    public static readonly IReadOnlyList<string> Splits = ["train", "val", "test"];

    public const int DefaultImageSize = 96;

    public static SynthDataSummary Generate(string outDir, int images, int seed, int imageSize = DefaultImageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(imageSize, 1024);
        outDir = Path.GetFullPath(outDir);
        Directory.CreateDirectory(Path.Combine(outDir, "images"));
        var encoder = new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit8 };

        var captions = new IReadOnlyList<string>[images];
        // Each image has its own generator, so drawing them in parallel changes nothing in the files.
        Parallel.For(0, images, i =>
        {
            var (scene, image) = Render(seed, i, imageSize);
            using (image)
                image.SaveAsPng(Path.Combine(outDir, FileName(i)), encoder);
            captions[i] = SceneCaptions.For(scene);
        });
        // Scenes are independent draws, so consecutive blocks make fair splits.
        var entries = Splits.ToDictionary(s => s, s =>
        {
            var (start, count) = SplitRange(images, s);
            return Enumerable.Range(start, count).Select(i => (Id: i + 1, File: FileName(i), Captions: captions[i])).ToList();
        });

        int annotationId = 1;
        var files = new Dictionary<string, string>();
        foreach (var split in Splits)
        {
            files[split] = Path.Combine(outDir, $"captions_{split}.json");
            annotationId = WriteCoco(files[split], split, seed, imageSize, entries[split], annotationId);
        }
        return new SynthDataSummary(files, entries.ToDictionary(e => e.Key, e => e.Value.Count), annotationId - 1);
    }

    private static string FileName(int index) => $"images/{index:D6}.png";

    /// <summary>Image <paramref name="index"/> of the set made with <paramref name="seed"/>, in memory:
    /// the same pixels that <see cref="Generate"/> writes (images do not depend on the set's size).</summary>
    public static (SynthScene Scene, Image<Rgb24> Image) Render(int seed, int index, int imageSize = DefaultImageSize)
    {
        var rng = Rng(seed, index);
        var scene = SynthScene.Sample(ref rng);
        return (scene, SceneRenderer.Render(scene, imageSize, ref rng));
    }

    /// <summary>Index range of a split in a set of <paramref name="images"/> images (80/10/10, in order).</summary>
    public static (int Start, int Count) SplitRange(int images, string split)
    {
        int val = (int)Math.Round(images * 0.1, MidpointRounding.AwayFromZero);
        int test = (int)Math.Round(images * 0.1, MidpointRounding.AwayFromZero);
        int train = images - val - test;
        return split switch
        {
            "train" => (0, train),
            "val" => (train, val),
            "test" => (train + val, test),
            _ => throw new ArgumentException($"split '{split}' is not one of {string.Join(", ", Splits)}"),
        };
    }

    /// <summary>The scene of image <paramref name="index"/> (its id is index + 1).</summary>
    public static SynthScene SceneFor(int seed, int index)
    {
        var rng = Rng(seed, index);
        return SynthScene.Sample(ref rng);
    }

    /// <summary>One generator per image, so an image does not depend on how many come before it.</summary>
    private static SplitMix64 Rng(int seed, int index)
    {
        var mix = new SplitMix64(((ulong)(uint)seed << 32) | (uint)index);
        return new SplitMix64(mix.NextUInt64());
    }

    /// <summary>A COCO captions file: info, licenses, images (id, file_name, width, height), annotations
    /// (id, image_id, caption). Returns the next annotation id.</summary>
    private static int WriteCoco(string path, string split, int seed, int size,
        IReadOnlyList<(int Id, string File, IReadOnlyList<string> Captions)> entries, int annotationId)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("info");
        json.WriteString("description", $"synthetic coloured shapes ({split}), captioner synth-data --seed {seed} --size {size}");
        json.WriteString("version", "1.0");
        json.WriteEndObject();
        json.WriteStartArray("licenses");
        json.WriteEndArray();
        json.WriteStartArray("images");
        foreach (var (id, file, _) in entries)
        {
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("file_name", file);
            json.WriteString("split", split);
            json.WriteNumber("width", size);
            json.WriteNumber("height", size);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("annotations");
        foreach (var (id, _, captions) in entries)
            foreach (var caption in captions)
            {
                json.WriteStartObject();
                json.WriteNumber("id", annotationId++);
                json.WriteNumber("image_id", id);
                json.WriteString("caption", caption);
                json.WriteEndObject();
            }
        json.WriteEndArray();
        json.WriteEndObject();
        return annotationId;
    }
}
