using CaptionService.Hub;
using CaptionService.Model;
using Microsoft.Extensions.Options;
using static TorchSharp.torch;

namespace CaptionService.Api.Options;

/// <summary>Start-up checks of <see cref="CaptionerOptions"/>; every message names the setting it is about.</summary>
public sealed class CaptionerOptionsValidator : IValidateOptions<CaptionerOptions>
{
    public ValidateOptionsResult Validate(string? name, CaptionerOptions options)
    {
        var errors = new List<string>();
        const string S = CaptionerOptions.Section;

        var dir = options.CheckpointDirectory;
        if (options.UsesHub)
        {
            // Syntax only: the Hub is asked when the model loads, in the background.
            if (!ModelReference.TryParse(options.Checkpoint, out _, out var problem)) errors.Add($"{S}:Checkpoint: {problem}");
        }
        else if (!Directory.Exists(dir))
            errors.Add(options.UsesBuiltInModel
                ? $"{S}:Checkpoint: the built-in demo checkpoint is missing from '{dir}' (a broken build or publish?); set a checkpoint directory"
                : $"{S}:Checkpoint: directory '{dir}' does not exist (leave it empty for the built-in demo checkpoint)");
        else if (!File.Exists(Path.Combine(dir, "config.json")))
            errors.Add($"{S}:Checkpoint: '{dir}' has no config.json; is it a checkpoint directory?");

        Device? device = null;
        try
        {
            device = TorchRuntime.ResolveDevice(options.Device ?? "");
        }
        catch (ArgumentException e)
        {
            errors.Add($"{S}:Device: {e.Message}");
        }

        try
        {
            if (device is not null) TorchRuntime.ResolvePrecision(options.DType ?? "", device);
            else if (!string.Equals(options.DType?.Trim(), "auto", StringComparison.OrdinalIgnoreCase)) TorchRuntime.ParsePrecision(options.DType ?? "");
        }
        catch (ArgumentException e)
        {
            errors.Add($"{S}:DType: {e.Message}");
        }

        if (options.MaxUploadBytes < 1)
            errors.Add($"{S}:MaxUploadBytes: must be a positive number of bytes (got {options.MaxUploadBytes})");
        if (options.MaxPixels < 1)
            errors.Add($"{S}:MaxPixels: must be a positive number of pixels (got {options.MaxPixels})");

        if (options.Threads < 0)
            errors.Add($"{S}:Threads: must be 0 (libtorch's default) or a number of threads (got {options.Threads})");
        if (options.MaxImagesPerRequest < 1)
            errors.Add($"{S}:MaxImagesPerRequest: must be at least 1 (got {options.MaxImagesPerRequest})");
        errors.AddRange(options.Batching.Validate($"{S}:Batching"));
        if (options.RateLimitPerMinute < 0)
            errors.Add($"{S}:RateLimitPerMinute: must be 0 (off) or a positive number of requests (got {options.RateLimitPerMinute})");

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
