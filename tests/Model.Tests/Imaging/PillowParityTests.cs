using System.Text.Json;
using System.Text.RegularExpressions;
using CaptionService.Model.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;
using Xunit.Abstractions;

namespace CaptionService.Model.Tests.Imaging;

/// <summary>
/// Our resize against Pillow's own (fixtures/make_fixtures.py, run with Debian's python3-pil 9.4): every
/// filter, down and up, odd sizes, thin and tiny images, sharp edges and saturated colours. Every 8-bit
/// value must be within one grey level of Pillow's, and nearly all equal.
/// </summary>
public partial class PillowParityTests(ITestOutputHelper output)
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Imaging", "fixtures");

    /// <summary>Values compared, values that differ, and the largest difference.</summary>
    internal sealed record Difference(long Values, long Different, int Max)
    {
        public static Difference Of(Image<Rgb24> ours, Image<Rgb24> pillow)
        {
            Assert.Equal((pillow.Width, pillow.Height), (ours.Width, ours.Height));
            long different = 0;
            int max = 0;
            for (int y = 0; y < ours.Height; y++)
                for (int x = 0; x < ours.Width; x++)
                {
                    var (a, b) = (ours[x, y], pillow[x, y]);
                    foreach (int d in new[] { Math.Abs(a.R - b.R), Math.Abs(a.G - b.G), Math.Abs(a.B - b.B) })
                    {
                        if (d != 0) different++;
                        max = Math.Max(max, d);
                    }
                }
            return new Difference(3L * ours.Width * ours.Height, different, max);
        }

        public Difference Plus(Difference other) => new(Values + other.Values, Different + other.Different, Math.Max(Max, other.Max));
        public override string ToString() => $"{Different} of {Values} values differ, at most by {Max}";
    }

    internal static Image<Rgb24> Load(string file) => Image.Load<Rgb24>(Path.Combine(Fixtures, file));

    [GeneratedRegex(@"^out-(?<source>[a-z]+)-(?<filter>[a-z]+)-(?<w>\d+)x(?<h>\d+)\.png$")]
    private static partial Regex ResizeCase();

    /// <summary>Every resize fixture: file, source, filter, width, height.</summary>
    public static TheoryData<string, string, ResampleFilter, int, int> ResizeCases()
    {
        var data = new TheoryData<string, string, ResampleFilter, int, int>();
        foreach (var path in Directory.GetFiles(Fixtures, "out-*.png").Order(StringComparer.Ordinal))
        {
            var m = ResizeCase().Match(Path.GetFileName(path));
            if (!m.Success || m.Groups["source"].Value == "pipeline") continue;
            data.Add(Path.GetFileName(path), $"src-{m.Groups["source"].Value}.png", Enum.Parse<ResampleFilter>(m.Groups["filter"].Value, ignoreCase: true),
                int.Parse(m.Groups["w"].Value), int.Parse(m.Groups["h"].Value));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ResizeCases))]
    public void Resize_is_within_one_grey_level_of_Pillow(string expected, string source, ResampleFilter filter, int width, int height)
    {
        using var input = Load(source);
        using var pillow = Load(expected);
        using var ours = Resampler.Resize(input, width, height, filter);
        var d = Difference.Of(ours, pillow);
        output.WriteLine($"{expected}: {d}");
        Assert.True(d.Max <= 1, $"{expected}: {d}");
    }

    /// <summary>All fixtures together, per filter: the counts for the record, and "equal for most".</summary>
    [Fact]
    public void Nearly_every_value_equals_Pillows_for_every_filter()
    {
        var cases = ResizeCases().Select(row => ((string)row[0], (string)row[1], (ResampleFilter)row[2], (int)row[3], (int)row[4])).ToList();
        Assert.True(cases.Count >= 6 * 15, $"only {cases.Count} fixtures found in {Fixtures}");
        foreach (var group in cases.GroupBy(c => c.Item3))
        {
            var total = new Difference(0, 0, 0);
            var imageSharp = new Difference(0, 0, 0); // what ImageSharp's nearest resampler to the same filter gives, for comparison
            foreach (var (expected, source, filter, w, h) in group)
            {
                using var input = Load(source);
                using var pillow = Load(expected);
                using var ours = Resampler.Resize(input, w, h, filter);
                total = total.Plus(Difference.Of(ours, pillow));
                using var theirs = input.Clone(x => x.Resize(w, h, ImageSharpEquivalent(filter)));
                imageSharp = imageSharp.Plus(Difference.Of(theirs, pillow));
            }
            output.WriteLine($"{group.Key,-9} ({group.Count()} images): ours {total}; ImageSharp's {imageSharp}");
            Assert.True(total.Max <= 1, $"{group.Key}: {total}");
            Assert.True(total.Different <= total.Values / 100, $"{group.Key}: {total} (more than 1% differ)");
        }
    }

    private static IResampler ImageSharpEquivalent(ResampleFilter filter) => filter switch
    {
        ResampleFilter.Nearest => KnownResamplers.NearestNeighbor,
        ResampleFilter.Lanczos => KnownResamplers.Lanczos3,
        ResampleFilter.Bilinear => KnownResamplers.Triangle,
        ResampleFilter.Bicubic => KnownResamplers.Bicubic,
        ResampleFilter.Box => KnownResamplers.Box,
        _ => KnownResamplers.Hermite, // ImageSharp has no Hamming window; Hermite is its closest short kernel
    };

    /// <summary>Resize then center crop, as an image processor does (pipelines.json says what Pillow was given).</summary>
    [Fact]
    public void Resize_and_center_crop_match_Pillow_with_either_rounding()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "pipelines.json")));
        var pipelines = json.RootElement.GetProperty("pipelines").EnumerateArray().ToList();
        Assert.Equal(6, pipelines.Count);
        foreach (var p in pipelines)
        {
            var resize = p.GetProperty("resize");
            var target = resize.TryGetProperty("shortest_edge", out var s)
                ? new ResizeTarget { ShortestEdge = s.GetInt32() }
                : new ResizeTarget { Height = resize.GetProperty("height").GetInt32(), Width = resize.GetProperty("width").GetInt32() };
            var cropSize = p.GetProperty("crop");
            var crop = new CenterCrop(cropSize.GetProperty("height").GetInt32(), cropSize.GetProperty("width").GetInt32())
            {
                Rounding = p.GetProperty("rounding").GetString() == "floor" ? CropRounding.Floor : CropRounding.HalfEven,
            };
            var steps = new PreprocessingConfig
            {
                Resize = target,
                Resample = Enum.Parse<ResampleFilter>(p.GetProperty("resample").GetString()!, ignoreCase: true),
                CenterCrop = crop,
            };
            using var input = Load(p.GetProperty("source").GetString()!);
            using var pillow = Load(p.GetProperty("output").GetString()!);

            // The same sizes and offsets as transformers / torchvision compute them.
            var resized = target.For(input.Width, input.Height);
            Assert.Equal(p.GetProperty("resized").EnumerateArray().Select(e => e.GetInt32()), new[] { resized.Width, resized.Height });
            var (top, left) = crop.Offsets(resized.Width, resized.Height);
            Assert.Equal(p.GetProperty("offset").EnumerateArray().Select(e => e.GetInt32()), new[] { top, left });

            var transform = new ImageTransform(Presets.Tiny with { ImageSize = crop.Width, PatchSize = 8, Preprocessing = steps });
            using var ours = transform.ToPixels(input);
            var d = Difference.Of(ours, pillow);
            output.WriteLine($"{p.GetProperty("name").GetString()}: {d}");
            Assert.True(d.Max <= 1 && d.Different <= d.Values / 100, $"{p.GetProperty("name").GetString()}: {d}");
        }
    }

    [Fact]
    public void The_two_roundings_differ_on_an_odd_margin_half()
    {
        // margin 3: floor(1.5) = 1, round-half-even(1.5) = 2; margin 5: 2 and 2 (2.5 rounds to even)
        Assert.Equal((1, 2), new CenterCrop(4, 4).Offsets(9, 7));
        Assert.Equal((2, 2), new CenterCrop(4, 4) { Rounding = CropRounding.HalfEven }.Offsets(9, 7));
        Assert.Equal((1, 2), new CenterCrop(4, 4) { Rounding = CropRounding.HalfEven }.Offsets(9, 6));
    }
}
