using System.Text.Json;

namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Karpathy's split files (<c>dataset_coco.json</c>, <c>dataset_flickr8k.json</c>, <c>dataset_flickr30k.json</c>):
/// <c>{"images": [{"filepath"?, "filename", "split", "sentences": [{"raw", "tokens"}], "cocoid"? , "imgid"}], "dataset": ...}</c>.
/// We keep <c>raw</c> (the original text; <c>tokens</c> is lower-cased and stripped of punctuation). Splits are
/// the file's: train, val, test, and for COCO "restval" (the 30k val2014 images Karpathy moved to training:
/// <see cref="DatasetSplits"/> counts it as train). Id: cocoid when present, else the file name. The image
/// path is <c>filepath/filename</c> (COCO: "val2014/COCO_val2014_...jpg") under the JSON's folder or its parent,
/// or under a Flickr image folder beside it.
/// </summary>
internal static class KarpathyReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var b = new DatasetBuilder(path, DatasetFormat.Karpathy, options);
        var seen = JsonRecords.ReadObject(path, new Dictionary<string, Action<JsonElement, string>>
        {
            ["images"] = (e, where) => b.Record(where, () =>
            {
                var file = JsonFields.Text(e, "filename");
                var folder = JsonFields.OptionalText(e, "filepath");
                var id = JsonFields.OptionalId(e, "cocoid") ?? file;
                if (folder is not null) file = Path.Combine(folder, file);
                if (!b.Image(id, file, JsonFields.OptionalText(e, "split"), where)) return;
                int j = 0;
                foreach (var sentence in JsonFields.Array(e, "sentences").EnumerateArray())
                {
                    var at = $"{where[..^1]}.sentences[{j++}])";
                    b.Record(at, () => b.Caption(id, JsonFields.Text(sentence, "raw"), at));
                }
            }),
        });
        if (!seen.Contains("images"))
            throw new InvalidDataException($"{path}: no 'images' array, so not a Karpathy split file");
        var dir = Path.GetDirectoryName(path)!;
        return b.Build([dir, Path.Combine(dir, ".."),
            .. new[] { "Flicker8k_Dataset", "Flickr8k_Dataset", "flickr30k-images", "flickr30k_images", "images" }.Select(d => Path.Combine(dir, d))]);
    }
}
