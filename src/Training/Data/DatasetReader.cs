using System.Text;
using System.Text.RegularExpressions;
using CaptionService.Training.Data.Readers;

namespace CaptionService.Training.Data;

/// <summary>Reads any supported captions file into a <see cref="CaptionDataset"/> (formats: <see cref="DatasetFormat"/>).</summary>
public static partial class DatasetReader
{
    /// <summary>
    /// Reads <paramref name="path"/> as <see cref="DatasetReadOptions.Format"/>, or as the format detected from
    /// its name and first bytes. Malformed input: <see cref="InvalidDataException"/> naming file and line;
    /// missing images: counted in the report and skipped, or <see cref="FileNotFoundException"/> with
    /// <see cref="DatasetReadOptions.FailOnMissingImages"/>.
    /// </summary>
    public static CaptionDataset Read(string path, DatasetReadOptions? options = null)
    {
        options ??= new DatasetReadOptions();
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        return (options.Format ?? Detect(path)) switch
        {
            DatasetFormat.Coco => CocoReader.Read(path, options),
            DatasetFormat.Karpathy => KarpathyReader.Read(path, options),
            DatasetFormat.FlickrToken => FlickrTokenReader.Read(path, options),
            DatasetFormat.KaggleCsv => KaggleCaptionsReader.Read(path, options),
            DatasetFormat.Flickr30kCsv => Flickr30kCsvReader.Read(path, options),
            DatasetFormat.Csv => CsvCaptionsReader.Read(path, options),
            DatasetFormat.Jsonl => JsonlReader.Read(path, options),
            var other => throw new ArgumentException($"unknown dataset format {other}"),
        };
    }

    /// <summary>
    /// The format of a captions file, from its name, then its first line or first megabyte:
    /// <c>*.jsonl</c> JSON lines; <c>dataset_*.json</c> or a JSON with "sentences" Karpathy; other JSON COCO;
    /// <c>*.token*</c> or <c>NAME#N&lt;TAB&gt;</c> lines Flickr token; header <c>image_name| ...</c> Flickr30k;
    /// <c>captions.txt</c> or a <c>.txt</c> with header <c>image,caption</c> Kaggle; other <c>.csv</c>/<c>.tsv</c> plain CSV.
    /// </summary>
    public static DatasetFormat Detect(string path)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        var ext = Path.GetExtension(name);
        if (ext is ".jsonl" or ".ndjson") return DatasetFormat.Jsonl;
        if (ext == ".json")
        {
            if (name.StartsWith("dataset_", StringComparison.Ordinal)) return DatasetFormat.Karpathy;
            if (name.StartsWith("captions_", StringComparison.Ordinal)) return DatasetFormat.Coco;
            return Head(path, 1 << 20).Contains("\"sentences\"", StringComparison.Ordinal) ? DatasetFormat.Karpathy : DatasetFormat.Coco;
        }
        if (name.Contains(".token", StringComparison.Ordinal)) return DatasetFormat.FlickrToken;
        var first = Head(path, 4096).Split('\n')[0].Trim().TrimStart('\uFEFF');
        if (first.Replace(" ", "").StartsWith("image_name|", StringComparison.OrdinalIgnoreCase)) return DatasetFormat.Flickr30kCsv;
        if (ext == ".txt" && (name == "captions.txt" || first.Equals("image,caption", StringComparison.OrdinalIgnoreCase)))
            return DatasetFormat.KaggleCsv;
        if (ext is ".csv" or ".tsv") return DatasetFormat.Csv;
        if (TokenLine().IsMatch(first)) return DatasetFormat.FlickrToken;
        throw new InvalidDataException(
            $"{path}: cannot tell the dataset format from its name or first line; give it (one of {string.Join(", ", FormatNames)})");
    }

    /// <summary>Command-line names of the formats: coco, karpathy, flickr-token, kaggle-csv, flickr30k-csv, csv, jsonl.</summary>
    public static IReadOnlyList<string> FormatNames { get; } = ["coco", "karpathy", "flickr-token", "kaggle-csv", "flickr30k-csv", "csv", "jsonl"];

    /// <summary>A format from its command-line name (or enum name, any case).</summary>
    public static DatasetFormat ParseFormat(string name)
    {
        var key = name.Replace("-", "").Replace("_", "");
        return Enum.TryParse<DatasetFormat>(key, ignoreCase: true, out var format) && Enum.IsDefined(format)
            && !int.TryParse(key, out _)
            ? format
            : throw new ArgumentException($"unknown dataset format '{name}' (one of {string.Join(", ", FormatNames)})");
    }

    private static string Head(string path, int bytes)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[bytes];
        int n = stream.ReadAtLeast(buffer, bytes, throwOnEndOfStream: false);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [GeneratedRegex(@"^[^\t#]+#\d+\t")]
    private static partial Regex TokenLine();
}
