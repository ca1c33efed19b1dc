using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;

namespace CaptionService.Api.Intake;

/// <summary>
/// The uploaded form -> the image's bytes, with the checks that need no decoding: every field is
/// one we know, the image field is there, is a file, comes once, and is not larger than
/// <see cref="CaptionerOptions.MaxUploadBytes"/>.
/// Everything about the content (empty, format, pixels, damage) is the preprocessor's.
/// </summary>
public static class ImageUpload
{
    /// <summary>The image's bytes, or the problem to answer with instead.</summary>
    public static async Task<(byte[]? Bytes, IResult? Problem)> ReadAsync(
        HttpRequest request, IFormFile? image, CaptionerOptions options, CancellationToken cancellationToken)
    {
        var form = request.HasFormContentType ? request.Form : null;
        var unknown = form is null ? [] : form.Keys.Concat(form.Files.Select(f => f.Name))
            .Where(k => !FormFields.All.Contains(k)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (unknown.Count > 0)
            return (null, ApiProblems.Field(unknown[0],
                $"Unknown form field{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; "
                + $"the fields are {string.Join(", ", FormFields.All)}."));

        if (image is null)
        {
            var detail = form?.ContainsKey(FormFields.Image) == true
                ? $"The '{FormFields.Image}' field must be a file upload (multipart/form-data with a filename), not a text value."
                : $"The form field '{FormFields.Image}' is required: send the image as a multipart/form-data file named '{FormFields.Image}'.";
            return (null, ApiProblems.Field(FormFields.Image, detail));
        }
        if (form!.Files.GetFiles(FormFields.Image).Count > 1)
            return (null, ApiProblems.Field(FormFields.Image, $"Send one image per request (got {form.Files.GetFiles(FormFields.Image).Count})."));
        if (image.Length > options.MaxUploadBytes)
            return (null, ApiProblems.UploadTooLarge(image.Length, options.MaxUploadBytes));

        var bytes = new byte[image.Length];
        await using var stream = image.OpenReadStream();
        await stream.ReadExactlyAsync(bytes, cancellationToken);
        return (bytes, null);
    }
}
