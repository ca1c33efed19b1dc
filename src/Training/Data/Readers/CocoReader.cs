using System.Text.Json;

namespace CaptionService.Training.Data.Readers;

/// <summary>
/// COCO captions JSON (<c>annotations/captions_train2017.json</c>): <c>images</c> [{id, file_name, ...}] and
/// <c>annotations</c> [{id, image_id, caption}], about five per image. Images are listed in the order of
/// <c>images</c>, each with its captions in annotation order; an image without captions is left out.
/// COCO files are one per split, so Split is null unless the images carry a "split" field. The image
/// folder is the JSON's folder (file_name may hold a subfolder, e.g. "images/0001.png"), else the
/// folder named after the file: <c>captions_train2017.json</c> -> <c>../train2017/</c> (the real layout
/// <c>annotations/</c> + <c>train2017/</c>) or <c>train2017/</c> beside the JSON.
/// </summary>
internal static class CocoReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var b = new DatasetBuilder(path, DatasetFormat.Coco, options);
        // Collected first, since nothing says "images" comes before "annotations" in the file.
        var captions = new List<(string ImageId, string Caption, string Where)>();
        var seen = JsonRecords.ReadObject(path, new Dictionary<string, Action<JsonElement, string>>
        {
            ["images"] = (e, where) => b.Record(where, () =>
                b.Image(JsonFields.Id(e, "id"), JsonFields.Text(e, "file_name"), JsonFields.OptionalText(e, "split"), where)),
            ["annotations"] = (e, where) => b.Record(where, () =>
                captions.Add((JsonFields.Id(e, "image_id"), JsonFields.Text(e, "caption"), where))),
        });
        foreach (var array in new[] { "images", "annotations" })
            if (!seen.Contains(array))
                throw new InvalidDataException($"{path}: no '{array}' array, so not a COCO captions file");
        foreach (var (id, caption, where) in captions)
            b.Caption(id, caption, where);

        var dir = Path.GetDirectoryName(path)!;
        var roots = new List<string> { dir };
        var name = Path.GetFileNameWithoutExtension(path);
        if (name.StartsWith("captions_", StringComparison.OrdinalIgnoreCase) && name.Length > "captions_".Length)
        {
            var split = name["captions_".Length..];
            roots.Add(Path.Combine(dir, "..", split));
            roots.Add(Path.Combine(dir, split));
        }
        return b.Build(roots);
    }
}
