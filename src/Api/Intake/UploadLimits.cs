using CaptionService.Api.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CaptionService.Api.Intake;

/// <summary>
/// Server-side bounds that follow <see cref="CaptionerOptions.MaxUploadBytes"/> and
/// <see cref="CaptionerOptions.MaxImagesPerRequest"/>: Kestrel refuses a request body larger than
/// the largest batch upload plus the multipart framing and form fields (413 before the upload is
/// read to the end), and the form reader refuses such a body. The exact per-image
/// check (413 naming the limit) is <see cref="ImageUpload"/>'s.
/// </summary>
public static class UploadLimits
{
    /// <summary>Room for multipart boundaries, part headers and the small decoding fields.</summary>
    public const long FormOverheadBytes = 64 * 1024;

    public static long RequestBodyLimit(CaptionerOptions options)
    {
        long files = Math.Max(1, options.MaxImagesPerRequest), perFile = Math.Max(1, options.MaxUploadBytes);
        return perFile > (long.MaxValue - FormOverheadBytes) / files ? long.MaxValue : files * perFile + FormOverheadBytes;
    }

    /// <summary>The section as configured, unchecked; defaults where it does not even bind (start-up validation reports that).</summary>
    private static CaptionerOptions Unvalidated(IConfiguration configuration)
    {
        try
        {
            return configuration.GetSection(CaptionerOptions.Section).Get<CaptionerOptions>() ?? new CaptionerOptions();
        }
        catch (InvalidOperationException)
        {
            return new CaptionerOptions();
        }
    }

    /// <summary>The body limits below, and the <see cref="DecodeGate"/>.</summary>
    public static IServiceCollection AddUploadLimits(this IServiceCollection services)
    {
        services.AddSingleton<DecodeGate>();
        // Read from the configuration, not IOptions<CaptionerOptions>: Kestrel's options are built with
        // the app, and bad settings must be reported by start-up validation (naming them), not here.
        services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((kestrel, configuration) =>
            kestrel.Limits.MaxRequestBodySize = RequestBodyLimit(Unvalidated(configuration)));
        services.AddOptions<FormOptions>().Configure<IConfiguration>((form, configuration) =>
        {
            form.MultipartBodyLengthLimit = RequestBodyLimit(Unvalidated(configuration));
            form.ValueCountLimit = 64;
        });
        return services;
    }
}
