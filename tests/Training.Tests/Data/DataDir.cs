using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Training.Tests.Data;

/// <summary>A temporary folder for dataset fixtures: annotation files in their real formats and tiny PNGs.</summary>
public sealed class DataDir : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("captioner-data-").FullName;

    public void Dispose() => Directory.Delete(Root, recursive: true);

    public string Path(string relative) => System.IO.Path.GetFullPath(System.IO.Path.Combine(Root, relative));

    /// <summary>Writes a 4x3 PNG; returns its absolute path.</summary>
    public string Png(string relative)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        using var image = new Image<Rgb24>(4, 3, new Rgb24(10, 200, 30));
        image.SaveAsPng(path);
        return path;
    }

    public string Write(string relative, string text)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }
}
