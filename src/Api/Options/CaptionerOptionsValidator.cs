using CaptionService.Api.Endpoints;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Model.Imaging;
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

        if (!(options.UploadTimeoutSeconds > 0) || double.IsInfinity(options.UploadTimeoutSeconds))
            errors.Add($"{S}:UploadTimeoutSeconds: must be a positive number of seconds (got {options.UploadTimeoutSeconds})");
        if (options.Threads < 0)
            errors.Add($"{S}:Threads: must be 0 (libtorch's default) or a number of threads (got {options.Threads})");
        if (options.MaxImagesPerRequest < 1)
            errors.Add($"{S}:MaxImagesPerRequest: must be at least 1 (got {options.MaxImagesPerRequest})");
        errors.AddRange(options.Batching.Validate($"{S}:Batching"));
        if (options.RateLimitPerMinute < 0)
            errors.Add($"{S}:RateLimitPerMinute: must be 0 (off) or a positive number of requests (got {options.RateLimitPerMinute})");
        CheckDecoding(options, errors);
        CheckAccess(options, errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckDecoding(CaptionerOptions options, List<string> errors)
    {
        const string S = CaptionerOptions.Section;
        if (options.DecodeConcurrency < 0)
            errors.Add($"{S}:DecodeConcurrency: must be 0 (one per core) or a number of images (got {options.DecodeConcurrency})");
        if (options.DecodeWaitMs < 0)
            errors.Add($"{S}:DecodeWaitMs: must be 0 or more milliseconds (got {options.DecodeWaitMs})");
        if (options.DecodeMemoryMegabytes < 1)
        {
            errors.Add($"{S}:DecodeMemoryMegabytes: must be a positive number of MiB (got {options.DecodeMemoryMegabytes})");
            return;
        }
        if (options.MaxUploadBytes < 1 || options.MaxPixels < 1) return;
        // The largest image accepted must fit the budget, or it could never be decoded.
        long largest = options.MaxPixels > (long.MaxValue - options.MaxUploadBytes) / DecodeCost.MaxBytesPerPixel ? long.MaxValue
            : options.MaxUploadBytes + options.MaxPixels * DecodeCost.MaxBytesPerPixel;
        if (largest > (long)options.DecodeMemoryMegabytes << 20)
            errors.Add($"{S}:DecodeMemoryMegabytes: must hold the largest image accepted, {S}:MaxPixels ({options.MaxPixels}) x "
                + $"{DecodeCost.MaxBytesPerPixel} bytes (lossless WebP) + {S}:MaxUploadBytes ({options.MaxUploadBytes}) = "
                + $"{(largest == long.MaxValue ? "more than 8 EiB" : $"{(largest + (1 << 20) - 1) >> 20:N0} MiB")}; raise it or lower MaxPixels (got {options.DecodeMemoryMegabytes})");
    }

    /// <summary>Key values are secrets: messages give their position and length, never the key.</summary>
    private static void CheckAccess(CaptionerOptions options, List<string> errors)
    {
        const string S = CaptionerOptions.Section;
        var keys = options.ApiKeys ?? [];
        for (int i = 0; i < keys.Length; i++)
        {
            string key = keys[i] ?? "", name = $"{S}:ApiKeys:{i}";
            if (key.Length < AccessControl.MinKeyLength)
                errors.Add($"{name}: must be at least {AccessControl.MinKeyLength} characters, a short key can be guessed (got {key.Length})");
            else if (!key.All(c => c is > ' ' and < (char)127))
                errors.Add($"{name}: must be printable ASCII without spaces, as an HTTP header carries it (got a key of {key.Length} characters with others)");
            else if (Array.IndexOf(keys, key) < i)
                errors.Add($"{name}: repeats {S}:ApiKeys:{Array.IndexOf(keys, key)}");
        }
        if (options.AuthFailuresPerMinute < 1)
            errors.Add($"{S}:AuthFailuresPerMinute: must be at least 1 (got {options.AuthFailuresPerMinute})");
        var proxies = options.TrustedProxies ?? [];
        for (int i = 0; i < proxies.Length; i++)
        {
            if (!System.Net.IPAddress.TryParse(proxies[i], out _) && !System.Net.IPNetwork.TryParse(proxies[i], out _))
                errors.Add($"{S}:TrustedProxies:{i}: must be an IP address (10.0.0.5) or a network (10.0.0.0/8) (got '{proxies[i]}')");
        }
    }
}
