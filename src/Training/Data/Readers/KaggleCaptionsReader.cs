namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Kaggle's Flickr8k <c>captions.txt</c>: CSV with the header <c>image,caption</c>, five rows per image;
/// captions that contain a comma are quoted (RFC 4180). Images in <c>Images/</c> beside the file.
/// </summary>
internal static class KaggleCaptionsReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var dir = Path.GetDirectoryName(path)!;
        return CsvCaptionsReader.Read(path, options, DatasetFormat.KaggleCsv, [Path.Combine(dir, "Images"), dir]);
    }
}
