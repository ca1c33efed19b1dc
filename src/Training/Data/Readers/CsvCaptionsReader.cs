namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Plain CSV (or TSV, by extension): a header naming an image column (image, image_path, file, filename,
/// file_name, path) and a caption column (caption, text, comment), and optionally a split column; one
/// caption per row, rows of the same image grouped. Image paths are relative to the file's folder
/// (or <c>images/</c> beside it), or absolute.
/// </summary>
internal static class CsvCaptionsReader
{
    public static readonly string[] ImageColumns = ["image", "image_path", "file", "filename", "file_name", "path"];
    public static readonly string[] CaptionColumns = ["caption", "text", "comment"];

    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var dir = Path.GetDirectoryName(path)!;
        return Read(path, options, DatasetFormat.Csv, [dir, Path.Combine(dir, "images"), Path.Combine(dir, "Images")]);
    }

    /// <summary>The shared reading, also used for Kaggle's <c>captions.txt</c>.</summary>
    public static CaptionDataset Read(string path, DatasetReadOptions options, DatasetFormat format, IEnumerable<string> roots)
    {
        var b = new DatasetBuilder(path, format, options);
        char delimiter = Path.GetExtension(path).Equals(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',';
        int image = -1, caption = -1, split = -1, width = 0;
        foreach (var record in Csv.Read(path, delimiter))
        {
            if (image < 0)
            {
                (image, caption, split, width) = (Csv.Column(record.Fields, ImageColumns), Csv.Column(record.Fields, CaptionColumns),
                    Csv.Column(record.Fields, "split"), record.Fields.Count);
                if (image < 0 || caption < 0)
                    throw new InvalidDataException(
                        $"{b.At(record.Line)}: the header needs an image column ({string.Join("/", ImageColumns)}) " +
                        $"and a caption column ({string.Join("/", CaptionColumns)}); found: {string.Join(",", record.Fields)}");
                continue;
            }
            var where = b.At(record.Line);
            b.Record(where, () =>
            {
                var f = record.Fields;
                // A caption with an unquoted comma gives extra fields: an error, not a guess.
                if (f.Count != width)
                    throw new MalformedRecordException($"expected {width} fields as in the header, found {f.Count} (quote a caption that has a '{delimiter}')");
                var file = f[image].Trim();
                b.Add(file, file, f[caption], split < 0 ? null : f[split], where);
            });
        }
        if (image < 0) throw new InvalidDataException($"{path}: empty file (expected a header line)");
        return b.Build(roots);
    }
}
