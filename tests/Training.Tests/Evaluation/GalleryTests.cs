using System.Text.RegularExpressions;
using CaptionService.Training.Evaluation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Tests.Evaluation;

public sealed partial class GalleryTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("gallery-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    internal static string Png(string dir, string name, int width, int height, Rgba32 colour)
    {
        var path = Path.Combine(dir, name);
        using var image = new Image<Rgba32>(width, height, colour);
        image.SaveAsPng(path);
        return path;
    }

    [GeneratedRegex("src=\"data:image/jpeg;base64,([A-Za-z0-9+/=]+)\"")]
    private static partial Regex DataUri();

    [Fact]
    public void Writes_one_self_contained_file_with_escaped_text_and_embedded_thumbnails()
    {
        var big = Png(dir, "big.png", 800, 400, new Rgba32(200, 30, 30));
        var transparent = Png(dir, "transparent.png", 40, 30, new Rgba32(0, 0, 255, 0));
        var missing = Path.Combine(dir, "missing <file>.jpg");
        var html = Path.Combine(dir, "out", "gallery.html");

        Gallery.Write(html, [
            (big, "a <script>alert('x')</script> & \"dog\"", ["a red <b>square</b>", "O'Brien's \"box\""]),
            (transparent, "a clear image", ["nothing"]),
            (missing, "lost", ["still listed"]),
            (big, "beyond max", ["not written"]),
        ], max: 3);

        Assert.True(File.Exists(html));
        var text = File.ReadAllText(html);

        // Escaped, never raw markup from captions.
        Assert.DoesNotContain("<script>", text);
        Assert.Contains("a &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;dog&quot;", text);
        Assert.Contains("a red &lt;b&gt;square&lt;/b&gt;", text);
        Assert.Contains("O&#39;Brien&#39;s &quot;box&quot;", text);

        // Two embedded JPEG thumbnails, longest side at most ThumbnailSize (800x400 -> 320x160; 40x30 kept).
        var thumbnails = DataUri().Matches(text).Select(m => Image.Load<Rgb24>(Convert.FromBase64String(m.Groups[1].Value))).ToList();
        Assert.Equal(2, thumbnails.Count);
        Assert.Equal((320, 160), (thumbnails[0].Width, thumbnails[0].Height));
        Assert.Equal((40, 30), (thumbnails[1].Width, thumbnails[1].Height));
        // Transparency is flattened on white.
        var pixel = thumbnails[1][20, 15];
        Assert.True(pixel.R > 240 && pixel.G > 240 && pixel.B > 240, pixel.ToString());
        thumbnails.ForEach(t => t.Dispose());

        // The unreadable image gets a note with its (escaped) path; the item beyond max is left out.
        Assert.Contains("missing &lt;file&gt;.jpg", text);
        Assert.Contains("still listed", text);
        Assert.DoesNotContain("beyond max", text);
        Assert.Equal(3, Regex.Matches(text, "<div class=\"item\">").Count);

        // Nothing is fetched from elsewhere.
        Assert.DoesNotContain("http://", text);
        Assert.DoesNotContain("https://", text);
        Assert.DoesNotContain("<link", text);
        Assert.DoesNotContain("<script", text);
    }

    [Fact]
    public void Max_must_not_be_negative() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Gallery.Write(Path.Combine(dir, "g.html"), [], max: -1));
}
