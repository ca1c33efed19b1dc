using System.Globalization;
using System.Text.Json.Serialization;

namespace CaptionService.Model.Imaging;

/// <summary>How an image is resampled. The numbers are Pillow's codes, which <c>preprocessor_config.json</c>'s
/// <c>resample</c> uses; all six are <see cref="Resampler"/>'s exact Pillow resize.</summary>
public enum ResampleFilter
{
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,

    /// <summary>ImageSharp's bicubic resampler: what every image got before checkpoints recorded their
    /// preprocessing (checkpoints without a <c>preprocessing</c> section still get it). Not Pillow's bicubic.</summary>
    [JsonStringEnumMemberName("imagesharp-bicubic")]
    ImageSharpBicubic = -1,
}

/// <summary>How a center crop places an odd margin.</summary>
public enum CropRounding
{
    /// <summary>Offset = floor(margin / 2), as transformers' <c>center_crop</c>.</summary>
    Floor,
    /// <summary>Offset = round(margin / 2), halves to even, as torchvision's <c>CenterCrop</c> (timm's eval transform).</summary>
    HalfEven,
}

/// <summary>A resize target: <c>{height, width}</c>, or <c>{shortest_edge}</c> (the other edge keeps the aspect
/// ratio: <c>int(shortest_edge * long / short)</c>, as transformers and torchvision compute it).</summary>
public sealed record ResizeTarget
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Height { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Width { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? ShortestEdge { get; init; }

    public static ResizeTarget Square(int size) => new() { Height = size, Width = size };

    [JsonIgnore] public bool IsShortestEdge => ShortestEdge is not null;

    /// <summary>The size an image of <paramref name="width"/> x <paramref name="height"/> is resized to.</summary>
    public (int Width, int Height) For(int width, int height)
    {
        if (ShortestEdge is not int s) return (Width!.Value, Height!.Value);
        if (width <= height) return (s, (int)((double)s * height / width));
        return ((int)((double)s * width / height), s);
    }

    public IEnumerable<string> Validate()
    {
        bool square = Height is not null || Width is not null;
        if (square == IsShortestEdge) yield return "needs height and width, or shortest_edge alone";
        else if (square && (Height is not > 0 || Width is not > 0)) yield return $"height and width must both be positive (got {Height} x {Width})";
        else if (ShortestEdge is <= 0) yield return $"shortest_edge must be positive (got {ShortestEdge})";
    }

    public override string ToString() => ShortestEdge is int s ? $"shortest edge {s}" : $"{Width} x {Height}";
}

/// <summary>A center crop to <see cref="Height"/> x <see cref="Width"/>.</summary>
public sealed record CenterCrop(int Height, int Width)
{
    public CropRounding Rounding { get; init; } = CropRounding.Floor;

    /// <summary>Top and left offsets in an image of <paramref name="width"/> x <paramref name="height"/>.</summary>
    public (int Top, int Left) Offsets(int width, int height) => (Offset(height - Height), Offset(width - Width));

    private int Offset(int margin) => Rounding == CropRounding.Floor
        ? margin >> 1 // floor, also for a negative margin
        : (int)Math.Round(margin / 2.0, MidpointRounding.ToEven);
}

/// <summary>
/// The steps that turn a decoded image into the network's input, before the per-channel
/// normalization (<see cref="ModelConfig.ImageMean"/>, <see cref="ModelConfig.ImageStd"/>): a checkpoint's
/// <c>preprocessing</c> section. Order, as in Hugging Face's image processors and timm's eval transform:
/// convert to RGB, resize (Pillow's arithmetic, 8-bit result), center crop, rescale (multiply by
/// <see cref="RescaleFactor"/>), normalize. The result is always <c>image_size x image_size</c>.
/// </summary>
public sealed record PreprocessingConfig
{
    /// <summary>Where these steps come from, for people (e.g. "preprocessor_config.json: ViTFeatureExtractor").</summary>
    public string? Source { get; init; }

    /// <summary>Images are always decoded to RGB (alpha dropped), as Hugging Face's image-to-text pipeline
    /// converts every image before its processor runs; kept as the source's <c>do_convert_rgb</c> says.</summary>
    public bool ConvertRgb { get; init; } = true;

    /// <summary>null: <c>image_size x image_size</c>, the aspect ratio not kept.</summary>
    public ResizeTarget? Resize { get; init; }

    public ResampleFilter Resample { get; init; } = ResampleFilter.Bicubic;

    /// <summary>null: no crop (the resize gives the network's size).</summary>
    public CenterCrop? CenterCrop { get; init; }

    /// <summary>Applied to the 8-bit values before normalizing (1/255: to [0, 1]; 1 when the source does not rescale).</summary>
    public double RescaleFactor { get; init; } = 1 / 255.0;

    /// <summary>What checkpoints written before this section existed were trained and served with:
    /// ImageSharp's bicubic to <c>image_size x image_size</c>. A missing section means this.</summary>
    public static PreprocessingConfig Legacy { get; } = new()
    {
        Source = "none recorded: ImageSharp bicubic to image_size x image_size, as before checkpoints recorded their preprocessing",
        Resample = ResampleFilter.ImageSharpBicubic,
    };

    /// <summary>The seed's transform: resize to the input size (aspect ratio not kept), no crop.</summary>
    public static PreprocessingConfig Seed(ResampleFilter resample, string? source = null) => new()
    {
        Source = source ?? $"seed: resize to the input size ({Name(resample)}), no crop",
        Resample = resample,
    };

    /// <summary>Every problem, each naming its field; empty when the steps end at <paramref name="imageSize"/> square.</summary>
    public IEnumerable<string> Validate(int imageSize)
    {
        if (!Enum.IsDefined(Resample)) yield return $"resample ({(int)Resample}) is not a known filter";
        if (!(RescaleFactor > 0) || double.IsInfinity(RescaleFactor)) yield return $"rescale_factor must be a positive number (got {RescaleFactor})";
        if (Resize is not null)
            foreach (var e in Resize.Validate()) yield return "resize " + e;
        if (Resize?.Validate().Any() == true) yield break;

        if (CenterCrop is { } crop)
        {
            if (crop.Height != imageSize || crop.Width != imageSize)
                yield return $"center_crop ({crop.Width} x {crop.Height}) must be image_size x image_size ({imageSize} x {imageSize})";
            var (w, h) = Resize switch
            {
                null => (imageSize, imageSize),
                { ShortestEdge: int s } => (s, s), // the short edge; the long one is at least as long
                _ => (Resize.Width!.Value, Resize.Height!.Value),
            };
            if (w < crop.Width || h < crop.Height)
                yield return $"center_crop ({crop.Width} x {crop.Height}) is larger than the resized image ({Resize})";
            if (!Enum.IsDefined(crop.Rounding)) yield return $"center_crop rounding ({(int)crop.Rounding}) is not known";
        }
        else if (Resize is { IsShortestEdge: true })
            yield return $"resize to the {Resize} keeps the aspect ratio: it needs a center_crop to image_size ({imageSize})";
        else if (Resize is not null && (Resize.Width != imageSize || Resize.Height != imageSize))
            yield return $"resize ({Resize}) must be image_size x image_size ({imageSize} x {imageSize}) when there is no center_crop";

        if (Resample == ResampleFilter.ImageSharpBicubic && CenterCrop is not null)
            yield return "resample 'imagesharp-bicubic' (the legacy resize) cannot be combined with a center_crop";
    }

    /// <summary>The steps in words, for <c>/model</c> and <c>captioner inspect</c>.</summary>
    public IReadOnlyList<string> Describe(int imageSize, float[] mean, float[] std)
    {
        var steps = new List<string> { "decode, apply the EXIF orientation, convert to RGB (alpha dropped)" };
        string target = Resize?.ToString() ?? $"{imageSize} x {imageSize}";
        steps.Add(Resample == ResampleFilter.ImageSharpBicubic
            ? $"resize to {target} with ImageSharp's bicubic"
            : $"resize to {target} with Pillow's {Name(Resample)} (8-bit result)");
        if (CenterCrop is { } crop)
            steps.Add($"center crop {crop.Width} x {crop.Height} (offsets {(crop.Rounding == CropRounding.Floor ? "floored" : "rounded half to even")})");
        steps.Add(RescaleFactor == 1 / 255.0 ? "rescale by 1/255" : $"rescale by {RescaleFactor.ToString("R", CultureInfo.InvariantCulture)}");
        static string List(float[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "]";
        steps.Add($"normalize: (x - {List(mean)}) / {List(std)}");
        return steps;
    }

    /// <summary>"bilinear", "bicubic", ... as the config spells them.</summary>
    public static string Name(ResampleFilter filter) =>
        filter == ResampleFilter.ImageSharpBicubic ? "imagesharp-bicubic" : filter.ToString().ToLowerInvariant();
}
