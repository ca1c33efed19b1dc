namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Flickr8k <c>Flickr8k.token.txt</c> / Flickr30k <c>results_20130124.token</c>: one caption per line,
/// <c>1000268201_693b08cb0e.jpg#0&lt;TAB&gt;A child in a pink dress ...</c> (#0..#4 per image). The image
/// folder is <c>Flicker8k_Dataset/</c> (sic: the official zip's spelling), <c>Flickr8k_Dataset/</c> or
/// <c>flickr30k-images/</c> beside the file. Splits come from the standard lists beside it
/// (<c>Flickr_8k.trainImages.txt</c>, <c>.devImages.txt</c> -> "val", <c>.testImages.txt</c>); an image in
/// none of them has no split. Quirk: Flickr8k's token file names a few images that are not in the
/// zip (e.g. <c>2258277193_586949ec62.jpg.1</c>); they show up as missing images.
/// </summary>
internal static class FlickrTokenReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var dir = Path.GetDirectoryName(path)!;
        var splits = ReadSplitLists(dir);
        var b = new DatasetBuilder(path, DatasetFormat.FlickrToken, options);
        b.Lines((text, where) =>
        {
            int tab = text.IndexOf('\t');
            int hash = tab < 0 ? -1 : text.LastIndexOf('#', tab);
            if (tab < 0 || hash <= 0 || !int.TryParse(text.AsSpan(hash + 1, tab - hash - 1), out _))
                throw new MalformedRecordException("expected IMAGE#N<TAB>caption");
            var file = text[..hash].Trim();
            b.Add(file, file, text[(tab + 1)..], splits.GetValueOrDefault(file), where);
        });
        return b.Build([.. new[] { "Flicker8k_Dataset", "Flickr8k_Dataset", "flickr30k-images", "flickr30k_images" }
            .Select(d => Path.Combine(dir, d)), dir]);
    }

    /// <summary>image file name -> split, from the <c>*.trainImages.txt</c>, <c>*.devImages.txt</c>, <c>*.testImages.txt</c> lists.</summary>
    private static Dictionary<string, string> ReadSplitLists(string dir)
    {
        var splits = new Dictionary<string, string>(StringComparer.Ordinal);
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (suffix, split) in new[] { ("trainImages.txt", "train"), ("devImages.txt", "val"), ("testImages.txt", "test") })
            foreach (var list in Directory.EnumerateFiles(dir, "*." + suffix).Order(StringComparer.Ordinal))
                foreach (var name in File.ReadLines(list).Select(l => l.Trim()).Where(l => l.Length > 0))
                {
                    if (origin.TryGetValue(name, out var other) && splits[name] != split)
                        throw new InvalidDataException($"{name} is in two split lists: {other} and {list}");
                    splits[name] = split;
                    origin[name] = list;
                }
        return splits;
    }
}
