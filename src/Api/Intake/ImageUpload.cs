using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;

namespace CaptionService.Api.Intake;

/// <summary>An uploaded image: the name the client gave it and the file. Its bytes stay where the
/// form reader put them (a temporary file, beyond 64 KB) until its decode has a lease (<see cref="DecodeGate"/>).</summary>
public sealed record UploadedImage(string FileName, IFormFile File);

/// <summary>
/// The uploaded form -> the images, with the checks that need no decoding: every field is
/// one we know, the file field is there, is a file, comes as often as allowed, and no file is
/// larger than <see cref="CaptionerOptions.MaxUploadBytes"/>.
/// Everything about the content (empty, format, pixels, damage) is the preprocessor's.
/// </summary>
public static class ImageUpload
{
    /// <summary>The images sent in <paramref name="field"/> (between 1 and <paramref name="maxFiles"/>), or the problem to answer with instead.</summary>
    public static async Task<(IReadOnlyList<UploadedImage>? Images, IResult? Problem)> ReadAsync(
        HttpRequest request, string field, int maxFiles, CaptionerOptions options, CancellationToken cancellationToken)
    {
        var form = request.HasFormContentType ? await request.ReadFormAsync(cancellationToken) : null;
        var unknown = form is null ? [] : form.Keys.Concat(form.Files.Select(f => f.Name))
            .Where(k => !FormFields.Options.Contains(k) && !string.Equals(k, field, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (unknown.Count > 0)
            return (null, ApiProblems.Field(unknown[0],
                $"Unknown form field{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; "
                + $"the fields are {string.Join(", ", FormFields.Options.Prepend(field))}."));

        var files = form?.Files.Where(f => string.Equals(f.Name, field, StringComparison.OrdinalIgnoreCase)).ToList() ?? [];
        if (files.Count == 0)
        {
            var detail = form?.ContainsKey(field) == true
                ? $"The '{field}' field must be a file upload (multipart/form-data with a filename), not a text value."
                : $"The form field '{field}' is required: send the image as a multipart/form-data file named '{field}'.";
            return (null, ApiProblems.Field(field, detail));
        }
        if (files.Count > maxFiles)
            return (null, ApiProblems.Field(field, maxFiles == 1
                ? $"Send one image per request (got {files.Count}); POST /captions/batch takes several."
                : $"Send at most {maxFiles} images per request (got {files.Count})."));

        var images = new List<UploadedImage>(files.Count);
        foreach (var (file, i) in files.Select((f, i) => (f, i)))
        {
            if (file.Length > options.MaxUploadBytes)
                return (null, ApiProblems.UploadTooLarge(Describe(file.FileName, i, files.Count), file.Length, options.MaxUploadBytes));
            images.Add(new UploadedImage(file.FileName, file));
        }
        return (images, null);
    }

    /// <summary>"The image" for a single upload; "Image 3 ('cat.gif')" in a batch, to say which file a problem is about.</summary>
    public static string Describe(string fileName, int index, int count) =>
        count == 1 ? "The image" : $"Image {index + 1} ('{fileName}')";
}
