using System.Globalization;
using System.Text.Json;
using CaptionService.Model.Imaging;

namespace CaptionService.Model.Checkpoints;

/// <summary>Which transform a timm import records (and training then keeps).</summary>
public enum TimmTransform
{
    /// <summary>The seed's: resize to the input size (aspect ratio not kept), no crop; the ViT's interpolation, mean and std.</summary>
    Seed,
    /// <summary>timm's eval transform from the ViT's <c>pretrained_cfg</c>: scale to input size / crop_pct, then center crop.</summary>
    Timm,
}

/// <summary>
/// The <c>pretrained_cfg</c> in a timm model's <c>config.json</c> (as on the Hub: <c>input_size</c>,
/// <c>interpolation</c>, <c>crop_pct</c>, <c>crop_mode</c>, <c>mean</c>, <c>std</c>), turned into the
/// preprocessing a timm-based checkpoint records. timm's eval transform is torchvision's PIL path:
/// <c>Resize(floor(size / crop_pct))</c> (shortest edge, or both edges in 'squash' mode) then
/// <c>CenterCrop(size)</c>, whose offsets round half to even.
/// </summary>
internal static class TimmPretrainedCfg
{
    // timm's defaults (timm.data.constants) for keys a pretrained_cfg leaves out
    private const double DefaultCropPct = 0.875;
    private static readonly float[] ImagenetMean = [0.485f, 0.456f, 0.406f], ImagenetStd = [0.229f, 0.224f, 0.225f];

    private static readonly Dictionary<string, ResampleFilter> Interpolations = new()
    {
        ["nearest"] = ResampleFilter.Nearest,
        ["bilinear"] = ResampleFilter.Bilinear,
        ["bicubic"] = ResampleFilter.Bicubic,
        ["box"] = ResampleFilter.Box,
        ["hamming"] = ResampleFilter.Hamming,
        ["lanczos"] = ResampleFilter.Lanczos,
    };

    /// <param name="path">the ViT's config.json, or null when there is none</param>
    /// <param name="notes">gets one line saying what was recorded and from what</param>
    public static ModelConfig Apply(ModelConfig config, string? path, TimmTransform choice, List<string> notes)
    {
        var json = path is not null && File.Exists(path) ? JsonFile.Read(path) : null;
        var cfg = json?.Child("pretrained_cfg");
        if (cfg is null)
        {
            if (choice == TimmTransform.Timm)
                throw new InvalidDataException($"{path ?? "the ViT's folder"}: no pretrained_cfg (timm's config.json) to take the timm transform from");
            var steps = config.Preprocessing ?? PreprocessingConfig.Seed(ResampleFilter.Bicubic);
            notes.Add($"{(json is null ? "no config.json beside the ViT weights" : $"{path} has no pretrained_cfg")}: " +
                $"the seed's transform assumed (resize to {config.ImageSize} x {config.ImageSize}, {PreprocessingConfig.Name(steps.Resample)}, no crop; " +
                $"mean {string.Join(", ", config.ImageMean)}, std {string.Join(", ", config.ImageStd)})");
            return config with { Preprocessing = steps };
        }

        int size = config.ImageSize;
        if (cfg.Raw("input_size") is { } input)
        {
            var dims = input.ValueKind == JsonValueKind.Array ? input.EnumerateArray().Select(e => e.TryGetInt32(out int v) ? v : -1).ToArray() : [];
            if (dims.Length != 3 || dims[0] != 3 || dims[1] != size || dims[2] != size)
                throw cfg.Error("input_size", $"is {input.GetRawText()}; the weights' pos_embed is for [3, {size}, {size}]");
        }
        string interpolation = cfg.String("interpolation") ?? "bicubic";
        if (!Interpolations.TryGetValue(interpolation, out var filter))
            throw cfg.Error("interpolation", $"is '{interpolation}'; supported: {string.Join(", ", Interpolations.Keys)}");
        double cropPct = cfg.Double("crop_pct") ?? DefaultCropPct;
        if (!(cropPct > 0 && cropPct <= 1)) throw cfg.Error("crop_pct", $"must be in (0, 1] (got {cropPct})");
        string cropMode = cfg.String("crop_mode") ?? "center";
        if (cropMode is not ("center" or "squash"))
            throw cfg.Error("crop_mode", $"is '{cropMode}'; supported: center, squash" + (cropMode == "border" ? " (border pads, which is not implemented)" : ""));
        float[] mean = Channels(cfg, "mean") ?? ImagenetMean, std = Channels(cfg, "std") ?? ImagenetStd;
        if (std.Any(s => !(s > 0))) throw cfg.Error("std", "must be positive");

        string pct = cropPct.ToString("0.###", CultureInfo.InvariantCulture);
        string own = $"{interpolation}, crop_pct {pct}, crop_mode {cropMode}";
        int scaled = (int)Math.Floor(size / cropPct);
        var chosen = choice == TimmTransform.Seed
            ? PreprocessingConfig.Seed(filter, $"seed: resize to the input size ({interpolation}, pretrained_cfg of {path}), no crop")
            : new PreprocessingConfig
            {
                Source = $"timm eval transform ({own}), pretrained_cfg of {path}",
                Resize = cropMode == "squash" ? ResizeTarget.Square(scaled) : new ResizeTarget { ShortestEdge = scaled },
                Resample = filter,
                CenterCrop = new CenterCrop(size, size) { Rounding = CropRounding.HalfEven },
            };
        var errors = chosen.Validate(size).ToList();
        if (errors.Count > 0) throw new InvalidDataException($"{path}: pretrained_cfg gives unusable preprocessing: {string.Join("; ", errors)}");
        notes.Add(choice == TimmTransform.Seed
            ? $"preprocessing: the seed's transform (resize to {size} x {size}, {interpolation}, no crop; the ViT's own eval transform is {own})"
            : $"preprocessing: timm's eval transform ({own}: resize to {chosen.Resize}, center crop {size} x {size})");
        return config with { Preprocessing = chosen, ImageMean = mean, ImageStd = std };
    }

    private static float[]? Channels(JsonFile cfg, string key)
    {
        var values = cfg.Floats(key);
        if (values is not null && values.Length != 3) throw cfg.Error(key, $"must have 3 values (got {values.Length})");
        return values;
    }
}
