using System.Text.Json;
using CaptionService.Model.Imaging;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A Hugging Face <c>preprocessor_config.json</c> read into a <see cref="PreprocessingConfig"/> plus mean and
/// std: the steps the checkpoint was trained with, which transformers' (slow, Pillow-based) image processor
/// runs: convert to RGB, resize with Pillow, center crop, rescale, normalize. Unknown processor types and
/// values are refused by name; keys the processor type does not use are ignored, as transformers does.
/// </summary>
internal static class HfImageProcessor
{
    /// <summary>A processor type's defaults for the keys its config leaves out (transformers' constructors).</summary>
    private sealed record Kind(ResizeTarget Size, ResampleFilter Resample, CenterCrop? Crop, float[] Mean, float[] Std,
        bool IntSizeIsShortestEdge, bool ShortestEdgeAllowed, bool ConvertRgb);

    private static readonly float[] Half = [0.5f, 0.5f, 0.5f];
    private static readonly float[] ClipMean = [0.48145466f, 0.4578275f, 0.40821073f], ClipStd = [0.26862954f, 0.26130258f, 0.27577711f];

    private static readonly Kind Vit = new(ResizeTarget.Square(224), ResampleFilter.Bilinear, null, Half, Half, false, false, false);
    private static readonly Kind Deit = new(ResizeTarget.Square(256), ResampleFilter.Bicubic, new CenterCrop(224, 224), Half, Half, false, false, false);
    private static readonly Kind Clip = new(new ResizeTarget { ShortestEdge = 224 }, ResampleFilter.Bicubic, new CenterCrop(224, 224), ClipMean, ClipStd, true, true, true);

    /// <summary>The processor types whose steps are implemented, by the names configs use.</summary>
    private static readonly Dictionary<string, Kind> Kinds = new()
    {
        ["ViTImageProcessor"] = Vit,
        ["ViTFeatureExtractor"] = Vit,
        ["DeiTImageProcessor"] = Deit,
        ["DeiTFeatureExtractor"] = Deit,
        ["CLIPImageProcessor"] = Clip,
        ["CLIPFeatureExtractor"] = Clip,
    };

    public static IEnumerable<string> SupportedTypes => Kinds.Keys;

    /// <summary>The config with the processor's steps, mean and std; refuses what cannot be reproduced.</summary>
    /// <param name="notes">gets one line saying what was read (or assumed)</param>
    public static ModelConfig Apply(ModelConfig config, string path, List<string> notes)
    {
        string file = Path.GetFileName(path);
        if (!File.Exists(path))
        {
            var assumed = config with
            {
                ImageMean = Half,
                ImageStd = Half,
                Preprocessing = PreprocessingConfig.Seed(ResampleFilter.Bilinear, $"{file} absent: ViTImageProcessor defaults (resize to the input size, bilinear)"),
            };
            notes.Add($"{file} absent: ViTImageProcessor's defaults assumed (resize to {config.ImageSize} x {config.ImageSize}, bilinear, rescale 1/255, mean and std 0.5)");
            return assumed;
        }

        var pre = JsonFile.Read(path);
        string typeKey = pre.Raw("image_processor_type") is not null ? "image_processor_type" : "feature_extractor_type";
        string? type = pre.String(typeKey);
        if (type is null) notes.Add($"{file} names no processor type: ViTImageProcessor assumed (transformers maps a 'vit' encoder to it)");
        type ??= "ViTImageProcessor";
        if (!Kinds.TryGetValue(type, out var kind))
            throw pre.Error(typeKey, $"is '{type}', which is not supported; supported: {string.Join(", ", Kinds.Keys)}");

        if (pre.Bool("do_resize") == false)
            throw pre.Error("do_resize", $"is false: images of every size must become {config.ImageSize} x {config.ImageSize} for this encoder, which needs a resize");
        var size = Size(pre, "size", kind) ?? kind.Size;
        var resample = Resample(pre) ?? kind.Resample;
        var crop = kind.Crop is null ? null // this processor has no crop step: do_center_crop and crop_size mean nothing to it
            : pre.Bool("do_center_crop") ?? true ? Crop(pre, kind) : null;
        double rescale = pre.Bool("do_rescale") == false ? 1.0 : pre.Double("rescale_factor") ?? 1 / 255.0;
        if (!(rescale > 0) || double.IsInfinity(rescale)) throw pre.Error("rescale_factor", $"must be a positive number (got {rescale})");
        var (mean, std) = pre.Bool("do_normalize") == false
            ? ([0f, 0f, 0f], [1f, 1f, 1f])
            : (Channels(pre, "image_mean") ?? kind.Mean, Channels(pre, "image_std") ?? kind.Std);
        if (std.Any(s => !(s > 0))) throw pre.Error("image_std", "must be positive");

        var steps = new PreprocessingConfig
        {
            Source = $"{file}: {type}",
            ConvertRgb = pre.Bool("do_convert_rgb") ?? kind.ConvertRgb,
            Resize = size,
            Resample = resample,
            CenterCrop = crop,
            RescaleFactor = rescale,
        };
        if (crop is null && !size.IsShortestEdge && (size.Height != config.ImageSize || size.Width != config.ImageSize))
            throw pre.Error("size", size.Height == size.Width
                ? $"({size.Height}) differs from the encoder's image_size ({config.ImageSize})"
                : $"is {size.Height}x{size.Width}; the encoder takes {config.ImageSize} x {config.ImageSize} images");
        if (crop is not null && (crop.Height != config.ImageSize || crop.Width != config.ImageSize))
            throw pre.Error("crop_size", $"({crop.Height}x{crop.Width}) differs from the encoder's image_size ({config.ImageSize})");
        var errors = steps.Validate(config.ImageSize).ToList();
        if (errors.Count > 0) throw new InvalidDataException($"{path}: {string.Join("; ", errors)}");

        notes.Add($"{file}: {type}: " + string.Join(", ", steps.Describe(config.ImageSize, mean, std).Skip(1)));
        return config with { Preprocessing = steps, ImageMean = mean, ImageStd = std };
    }

    /// <summary>An int (a square, or the shortest edge for processors that default so), or {height, width},
    /// or {shortest_edge} where the processor supports it.</summary>
    private static ResizeTarget? Size(JsonFile pre, string key, Kind kind)
    {
        switch (pre.Raw(key))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.Number }:
                int n = pre.Int(key)!.Value;
                if (n < 1) throw pre.Error(key, $"must be positive (got {n})");
                return kind.IntSizeIsShortestEdge ? new ResizeTarget { ShortestEdge = n } : ResizeTarget.Square(n);
            case { ValueKind: JsonValueKind.Object } e:
                var names = e.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
                var s = pre.Child(key)!;
                if (names.SequenceEqual(["height", "width"]))
                {
                    int h = s.Int("height") ?? 0, w = s.Int("width") ?? 0;
                    if (h < 1 || w < 1) throw pre.Error(key, $"needs a positive height and width (got {h}x{w})");
                    return new ResizeTarget { Height = h, Width = w };
                }
                if (names.SequenceEqual(["shortest_edge"]))
                {
                    if (!kind.ShortestEdgeAllowed) throw pre.Error(key, "is {shortest_edge}, which this processor type does not take (it needs height and width)");
                    int se = s.Int("shortest_edge") ?? 0;
                    if (se < 1) throw pre.Error(key, $"needs a positive shortest_edge (got {se})");
                    return new ResizeTarget { ShortestEdge = se };
                }
                throw pre.Error(key, $"has keys {{{string.Join(", ", names)}}}; supported: an integer, {{height, width}}" + (kind.ShortestEdgeAllowed ? " or {shortest_edge}" : ""));
            default:
                throw pre.Error(key, "must be an integer or an object");
        }
    }

    private static CenterCrop Crop(JsonFile pre, Kind kind)
    {
        // crop_size is always a square for an int (transformers: default_to_square=True).
        var size = pre.Raw("crop_size") is { ValueKind: JsonValueKind.Number } ? ResizeTarget.Square(pre.Int("crop_size")!.Value)
            : Size(pre, "crop_size", kind with { ShortestEdgeAllowed = false, IntSizeIsShortestEdge = false });
        return size is null ? kind.Crop! : new CenterCrop(size.Height!.Value, size.Width!.Value);
    }

    private static ResampleFilter? Resample(JsonFile pre)
    {
        if (pre.Raw("resample") is not { } e) return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int code) && code is >= 0 and <= 5) return (ResampleFilter)code;
        throw pre.Error("resample", $"is {e.GetRawText()}; Pillow's codes are 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming");
    }

    /// <summary>Three values, or one for every channel (transformers broadcasts a single float).</summary>
    private static float[]? Channels(JsonFile pre, string key)
    {
        if (pre.Raw(key) is { ValueKind: JsonValueKind.Number } one) return [one.GetSingle(), one.GetSingle(), one.GetSingle()];
        var values = pre.Floats(key);
        if (values is not null && values.Length != 3) throw pre.Error(key, $"must have 3 values (got {values.Length})");
        return values;
    }
}
