using System.Net;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// A one-file HTML gallery of captioned images: each image downscaled (longest side <see cref="ThumbnailSize"/>
/// pixels), EXIF-oriented, flattened on white and embedded as a JPEG data URI, next to its predicted caption and
/// references. No scripts, stylesheets or fonts are fetched: the file opens offline and can be mailed as is.
/// Text is HTML-escaped. An image that cannot be read gets a note with its path instead, and the rest still render.
/// </summary>
public static class Gallery
{
    /// <summary>Longest side of an embedded thumbnail, in pixels.</summary>
    public const int ThumbnailSize = 320;

    /// <summary>Images larger than this (width × height) are not decoded (a note is shown instead).</summary>
    public const long MaxPixels = 100_000_000;

    /// <summary>Writes the first <paramref name="max"/> items to <paramref name="htmlPath"/> (its folder is created).</summary>
    public static void Write(string htmlPath, IEnumerable<(string ImagePath, string Prediction, IReadOnlyList<string> References)> items, int max = 50)
    {
        ArgumentException.ThrowIfNullOrEmpty(htmlPath);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfNegative(max);

        var body = new StringBuilder();
        int count = 0;
        foreach (var (imagePath, prediction, references) in items.Take(max))
        {
            count++;
            body.Append("<div class=\"item\">\n");
            string? problem = "no image path";
            var dataUri = string.IsNullOrEmpty(imagePath) ? null : TryThumbnail(imagePath, out problem);
            body.Append(dataUri is not null
                ? $"<img src=\"{dataUri}\" alt=\"{Escape(prediction ?? "")}\">\n"
                : $"<div class=\"missing\">image not shown ({Escape(problem ?? "")}): {Escape(imagePath ?? "")}</div>\n");
            body.Append("<div>\n");
            body.Append($"<div class=\"name\">{Escape(string.IsNullOrEmpty(imagePath) ? "" : Path.GetFileName(imagePath))}</div>\n");
            body.Append($"<div class=\"prediction\">{Escape(prediction ?? "")}</div>\n");
            body.Append("<ol>\n");
            foreach (var reference in references ?? [])
                body.Append($"<li>{Escape(reference ?? "")}</li>\n");
            body.Append("</ol>\n</div>\n</div>\n");
        }

        var html = new StringBuilder();
        html.Append(Head);
        html.Append($"<h1>Caption gallery</h1>\n<p>{count} images: the predicted caption in bold, the references below it.</p>\n");
        html.Append(body);
        html.Append("</body>\n</html>\n");

        var directory = Path.GetDirectoryName(Path.GetFullPath(htmlPath));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        File.WriteAllText(htmlPath, html.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    private const string Head = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Caption gallery</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
        .item { display: flex; gap: 1.2em; align-items: flex-start; background: #fff; border: 1px solid #ddd;
                border-radius: 6px; padding: 0.8em; margin-bottom: 1em; }
        .item img { max-width: 320px; max-height: 320px; border-radius: 4px; }
        .missing { width: 320px; padding: 1em; background: #eee; color: #666; font-size: 0.9em; word-break: break-all; }
        .name { color: #777; font-size: 0.85em; word-break: break-all; }
        .prediction { font-size: 1.15em; font-weight: 600; margin: 0.3em 0 0.6em; }
        ol { margin: 0; padding-left: 1.4em; color: #444; }
        </style>
        </head>
        <body>

        """;

    /// <summary>Text for HTML element content and quoted attributes (&amp; &lt; &gt; " ' escaped).</summary>
    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A <c>data:image/jpeg;base64,...</c> thumbnail, or null (with the reason) when the file cannot be shown.</summary>
    private static string? TryThumbnail(string path, out string? problem)
    {
        problem = null;
        try
        {
            var info = Image.Identify(path);
            if (info is null) { problem = "not a recognised image"; return null; }
            if ((long)info.Width * info.Height > MaxPixels) { problem = "too large"; return null; }
            using var image = Image.Load<Rgba32>(path);
            image.Mutate(x => x.AutoOrient());
            if (image.Width > ThumbnailSize || image.Height > ThumbnailSize)
                image.Mutate(x => x.Resize(new ResizeOptions { Mode = ResizeMode.Max, Size = new Size(ThumbnailSize, ThumbnailSize) }));
            image.Mutate(x => x.BackgroundColor(Color.White));
            using var thumbnail = image.CloneAs<Rgb24>();
            using var jpeg = new MemoryStream();
            thumbnail.SaveAsJpeg(jpeg, new JpegEncoder { Quality = 80 });
            return "data:image/jpeg;base64," + Convert.ToBase64String(jpeg.GetBuffer(), 0, (int)jpeg.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or UnknownImageFormatException
            or InvalidImageContentException or NotSupportedException or ImageFormatException)
        {
            problem = e.Message;
            return null;
        }
    }
}
