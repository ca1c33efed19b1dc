using System.Text.Json;

namespace CaptionService.Training.Data.Readers;

/// <summary>
/// JSON lines: one object per line, <c>{"image": "a.jpg", "caption": "..."}</c> or
/// <c>{"image": "a.jpg", "captions": ["...", "..."]}</c>, with an optional <c>"split"</c>. The image key may
/// also be any of the CSV image column names. Lines of the same image are grouped. Paths relative to
/// the file's folder (or <c>images/</c> beside it), or absolute.
/// </summary>
internal static class JsonlReader
{
    public static CaptionDataset Read(string path, DatasetReadOptions options)
    {
        var b = new DatasetBuilder(path, DatasetFormat.Jsonl, options);
        b.Lines((text, where) =>
        {
            using var doc = Parse(text);
            var record = JsonFields.Object(doc.RootElement);
            var key = CsvCaptionsReader.ImageColumns.FirstOrDefault(k => record.TryGetProperty(k, out _))
                ?? throw new MalformedRecordException($"no image field ({string.Join("/", CsvCaptionsReader.ImageColumns)})");
            var file = JsonFields.Text(record, key).Trim();
            var split = JsonFields.OptionalText(record, "split");
            if (record.TryGetProperty("captions", out _))
            {
                if (!b.Image(file, file, split, where)) return;
                foreach (var caption in JsonFields.Array(record, "captions").EnumerateArray())
                    b.Caption(file, caption.ValueKind == JsonValueKind.String
                        ? caption.GetString()
                        : throw new MalformedRecordException("field 'captions' holds a non-string"), where);
            }
            else
                b.Add(file, file, JsonFields.Text(record, "caption"), split, where);
        });
        var dir = Path.GetDirectoryName(path)!;
        return b.Build([dir, Path.Combine(dir, "images")]);
    }

    private static JsonDocument Parse(string text)
    {
        try { return JsonDocument.Parse(text); }
        catch (JsonException e) { throw new MalformedRecordException($"invalid JSON: {e.Message}"); }
    }
}
