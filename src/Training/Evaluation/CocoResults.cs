using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// COCO caption files: predictions in the COCO results format <c>[{"image_id": 42, "caption": "..."}, ...]</c>,
/// and references from a COCO captions file <c>{"images": [{"id", "file_name"}...], "annotations": [{"image_id",
/// "caption"}...]}</c>.
/// </summary>
/// <remarks>
/// Image ids are strings here. A JSON number id becomes its decimal text (<c>42</c> → "42"), a JSON string id stays as it
/// is, so <c>42</c> and <c>"42"</c> are the same image. Writing does the reverse: an id that is the canonical decimal
/// text of a 64-bit integer ("42", "-3", not "042") is written as a number, any other as a string; so a file
/// round-trips. Every problem is an <see cref="InvalidDataException"/> of the form "FILE:LINE: problem" (LINE counted
/// from 1), for malformed JSON as well as for a missing field or a duplicate id.
/// </remarks>
public static class CocoResults
{
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip };

    /// <summary>Reads a COCO results file: image id → caption, in file order. Fields other than
    /// <c>image_id</c> and <c>caption</c> (e.g. <c>score</c>) are ignored; a second caption for an image is an error.</summary>
    public static Dictionary<string, string> ReadPredictions(string path)
    {
        var file = JsonFile.Open(path);
        var predictions = new Dictionary<string, string>(StringComparer.Ordinal);
        file.Parse((ref Utf8JsonReader reader) =>
        {
            if (reader.TokenType != JsonTokenType.StartArray)
                throw file.Error(reader.TokenStartIndex, "expected a JSON array of {\"image_id\": ..., \"caption\": ...} objects (COCO results format)");
            while (file.Next(ref reader) != JsonTokenType.EndArray)
            {
                long start = reader.TokenStartIndex;
                using var entry = JsonDocument.ParseValue(ref reader);
                var element = entry.RootElement;
                if (element.ValueKind != JsonValueKind.Object)
                    throw file.Error(start, $"expected an object {{\"image_id\": ..., \"caption\": ...}}, found {Describe(element)}");
                var id = ReadId(file, start, element, "image_id");
                var caption = ReadString(file, start, element, "caption", id);
                if (!predictions.TryAdd(id, caption))
                    throw file.Error(start, $"image_id {id} has a second prediction (duplicate image_id {id})");
            }
        });
        return predictions;
    }

    /// <summary>Writes predictions in the COCO results format, in the order given. A repeated id is an
    /// <see cref="ArgumentException"/> naming it.</summary>
    public static void WritePredictions(string path, IEnumerable<KeyValuePair<string, string>> predictions)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(predictions);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<KeyValuePair<string, string>>();
        foreach (var entry in predictions)
        {
            if (entry.Key is null) throw new ArgumentException("A prediction has a null image id.", nameof(predictions));
            if (entry.Value is null) throw new ArgumentException($"Image {entry.Key}: the caption is null.", nameof(predictions));
            if (!seen.Add(entry.Key)) throw new ArgumentException($"Image {entry.Key} has two predictions (duplicate image_id {entry.Key}).", nameof(predictions));
            entries.Add(entry);
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartArray();
        foreach (var (id, caption) in entries)
        {
            json.WriteStartObject();
            json.WritePropertyName("image_id");
            WriteImageId(json, id);
            json.WriteString("caption", caption);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>
    /// Reads a COCO captions file: every image's reference captions (images in order of their first annotation,
    /// captions in file order), and the <c>file_name</c> of each entry of <c>images</c>. Images without annotations are
    /// not in <see cref="CocoReferences.Captions"/>. Top-level fields other than <c>images</c> and <c>annotations</c> are skipped.
    /// </summary>
    public static CocoReferences ReadReferences(string path)
    {
        var file = JsonFile.Open(path);
        var captions = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var fileNames = new Dictionary<string, string>(StringComparer.Ordinal);
        bool sawAnnotations = false;
        file.Parse((ref Utf8JsonReader reader) =>
        {
            if (reader.TokenType != JsonTokenType.StartObject)
                throw file.Error(reader.TokenStartIndex, "expected a COCO captions object {\"images\": [...], \"annotations\": [...]}");
            while (file.Next(ref reader) != JsonTokenType.EndObject)
            {
                var name = reader.GetString();
                file.Next(ref reader);
                if (name is "annotations" or "images")
                {
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw file.Error(reader.TokenStartIndex, $"\"{name}\" must be an array");
                    sawAnnotations |= name == "annotations";
                    while (file.Next(ref reader) != JsonTokenType.EndArray)
                    {
                        long start = reader.TokenStartIndex;
                        using var entry = JsonDocument.ParseValue(ref reader);
                        var element = entry.RootElement;
                        if (element.ValueKind != JsonValueKind.Object)
                            throw file.Error(start, $"an entry of \"{name}\" must be an object, found {Describe(element)}");
                        if (name == "annotations")
                        {
                            var id = ReadId(file, start, element, "image_id");
                            var caption = ReadString(file, start, element, "caption", id);
                            if (!captions.TryGetValue(id, out var list)) captions[id] = list = [];
                            list.Add(caption);
                        }
                        else
                        {
                            var id = ReadId(file, start, element, "id");
                            if (element.TryGetProperty("file_name", out var fileName) && fileName.ValueKind == JsonValueKind.String)
                                fileNames[id] = fileName.GetString()!;
                        }
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        });
        if (!sawAnnotations) throw new InvalidDataException($"{path}: no \"annotations\" array: not a COCO captions file");
        return new CocoReferences(captions.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal), fileNames);
    }

    /// <summary>Whether <paramref name="id"/> is written as a JSON number: the canonical decimal text of a 64-bit integer.</summary>
    public static bool IsIntegerId(string id) =>
        long.TryParse(id, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value)
        && value.ToString(CultureInfo.InvariantCulture) == id;

    /// <summary>Writes an image id value: a number when <see cref="IsIntegerId"/>, else a string.</summary>
    internal static void WriteImageId(Utf8JsonWriter writer, string id)
    {
        if (IsIntegerId(id)) writer.WriteNumberValue(long.Parse(id, CultureInfo.InvariantCulture));
        else writer.WriteStringValue(id);
    }

    private static string ReadId(JsonFile file, long start, JsonElement element, string property)
    {
        if (!element.TryGetProperty(property, out var value))
            throw file.Error(start, $"missing \"{property}\"");
        return value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt64(out long number) => number.ToString(CultureInfo.InvariantCulture),
            JsonValueKind.String when value.GetString() is { Length: > 0 } text => text,
            _ => throw file.Error(start, $"\"{property}\" must be an integer or a non-empty string, found {Describe(value)}"),
        };
    }

    private static string ReadString(JsonFile file, long start, JsonElement element, string property, string id)
    {
        if (!element.TryGetProperty(property, out var value))
            throw file.Error(start, $"image_id {id}: missing \"{property}\"");
        if (value.ValueKind != JsonValueKind.String)
            throw file.Error(start, $"image_id {id}: \"{property}\" must be a string, found {Describe(value)}");
        return value.GetString()!;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => "null",
    };

    private delegate void ReaderAction(ref Utf8JsonReader reader);

    /// <summary>A JSON file's bytes, read with a reader that knows where it is, so every problem names a line.</summary>
    private sealed class JsonFile(string path, byte[] bytes)
    {
        public static JsonFile Open(string path)
        {
            ArgumentException.ThrowIfNullOrEmpty(path);
            if (Directory.Exists(path)) throw new InvalidDataException($"{path} is a directory, not a JSON file");
            var bytes = File.ReadAllBytes(path);
            // Utf8JsonReader does not skip a byte order mark.
            int offset = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
            return new JsonFile(path, offset == 0 ? bytes : bytes[offset..]);
        }

        /// <summary>Runs <paramref name="body"/> on a reader placed at the top-level value, then checks that nothing follows;
        /// malformed JSON becomes "FILE:LINE: not valid JSON: ...".</summary>
        public void Parse(ReaderAction body)
        {
            if (bytes.AsSpan().Trim(" \t\r\n"u8).IsEmpty) throw new InvalidDataException($"{path}:1: the file is empty, not JSON");
            var reader = new Utf8JsonReader(bytes, ReaderOptions);
            try
            {
                reader.Read();
                body(ref reader);
                if (reader.Read()) throw Error(reader.TokenStartIndex, "unexpected content after the top-level JSON value");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {Reason(e)}", e);
            }
        }

        /// <summary>Reads the next token; the end of the data inside a value is malformed JSON.</summary>
        public JsonTokenType Next(ref Utf8JsonReader reader)
        {
            if (!reader.Read()) throw new InvalidDataException($"{path}:{Line(bytes.Length)}: not valid JSON: the file ends inside a value");
            return reader.TokenType;
        }

        public InvalidDataException Error(long byteIndex, string problem) => new($"{path}:{Line(byteIndex)}: {problem}");

        /// <summary>1-based line of a byte offset.</summary>
        private int Line(long byteIndex)
        {
            int end = (int)Math.Min(byteIndex, bytes.Length);
            return bytes.AsSpan(0, end).Count((byte)'\n') + 1;
        }

        // JsonException messages end with " LineNumber: 3 | BytePositionInLine: 7."; the line is given separately.
        private static string Reason(JsonException e)
        {
            var message = e.Message;
            int at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            return (at > 0 ? message[..at] : message).TrimEnd();
        }
    }
}

/// <summary>A COCO captions file's references.</summary>
/// <param name="Captions">Image id → its reference captions (only images with at least one).</param>
/// <param name="FileNames">Image id → <c>file_name</c>, from the file's <c>images</c> list.</param>
public sealed record CocoReferences(IReadOnlyDictionary<string, IReadOnlyList<string>> Captions, IReadOnlyDictionary<string, string> FileNames);
