namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Kaggle's Flickr30k <c>results.csv</c>: not really CSV but '|'-separated with a space after each bar,
/// <c>image_name| comment_number| comment</c>, no quoting. The real file has a few broken lines, e.g.
/// <c>2199200615.jpg| 4 A dog runs across the grass .</c> (the second bar is missing, so is the comment):
/// they are errors naming file and line unless <see cref="DatasetReadOptions.SkipMalformedLines"/>.
/// Images in <c>flickr30k_images/</c> beside the file.
/// </summary>
internal static class Flickr30kCsvReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var b = new DatasetBuilder(path, DatasetFormat.Flickr30kCsv, options);
        var header = File.ReadLines(path).FirstOrDefault();
        if (header is not null && !header.TrimStart('\uFEFF').Replace(" ", "").StartsWith("image_name|comment_number|comment", StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{b.At(1)}: expected the header 'image_name| comment_number| comment', found '{header}'");
        b.Lines((text, where) =>
        {
            var fields = text.Split('|');
            if (fields.Length != 3)
                throw new MalformedRecordException($"expected 3 '|'-separated fields (image_name| comment_number| comment), found {fields.Length}");
            if (!int.TryParse(fields[1].Trim(), out _))
                throw new MalformedRecordException($"comment_number '{fields[1].Trim()}' is not an integer");
            var file = fields[0].Trim();
            b.Add(file, file, fields[2], null, where);
        }, skip: 1);
        var dir = Path.GetDirectoryName(path)!;
        return b.Build([Path.Combine(dir, "flickr30k_images"), dir]);
    }
}
