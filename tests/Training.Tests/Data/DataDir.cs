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

    /// <summary>The report counts kept captions (those of the images read) apart from those of missing images,
    /// and the two add up to every caption of the file (<paramref name="read"/>).</summary>
    public static void AssertCounts(CaptionService.Training.Data.CaptionDataset data, int read)
    {
        Assert.Equal(data.Images.Sum(i => i.Captions.Count), data.Report.CaptionsKept);
        Assert.Equal(read, data.Report.CaptionsKept + data.Report.CaptionsOfMissingImages);
        Assert.True(data.Report.MissingImages == 0 || data.Report.CaptionsOfMissingImages > 0);
    }

    public string Write(string relative, string text)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }
}
