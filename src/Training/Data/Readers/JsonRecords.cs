using System.Globalization;
using System.Text.Json;

namespace CaptionService.Training.Data.Readers;

/// <summary>
/// Streams the arrays of a top-level JSON object one element at a time, each with the line it starts
/// on, so that a bad record can be named by file, line and index. (Real COCO and Karpathy files are
/// minified, one line long: the index, e.g. <c>annotations[123]</c>, is what finds it there.)
/// </summary>
internal static class JsonRecords
{
    /// <summary>Calls <paramref name="arrays"/>[name](element, where) for every element of each named top-level
    /// array; other properties are skipped. Returns the names of all top-level properties seen.</summary>
    public static HashSet<string> ReadObject(string path, IReadOnlyDictionary<string, Action<JsonElement, string>> arrays)
    {
        ReadOnlySpan<byte> bytes = File.ReadAllBytes(path);
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        var lines = new LineCounter();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new InvalidDataException($"{path}:1: expected a JSON object");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                seen.Add(name);
                reader.Read();
                if (!arrays.TryGetValue(name, out var handle))
                {
                    reader.Skip();
                    continue;
                }
                if (reader.TokenType != JsonTokenType.StartArray)
                    throw new InvalidDataException($"{path}:{lines.LineAt(bytes, reader.TokenStartIndex)}: '{name}' is not an array");
                for (int i = 0; reader.Read() && reader.TokenType != JsonTokenType.EndArray; i++)
                {
                    long line = lines.LineAt(bytes, reader.TokenStartIndex);
                    handle(JsonElement.ParseValue(ref reader), $"{path}:{line} ({name}[{i}])");
                }
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}: invalid JSON: {e.Message}", e);
        }
        return seen;
    }

    /// <summary>Counts newlines up to increasing offsets, so the whole file is scanned once.</summary>
    private sealed class LineCounter
    {
        private long offset, line = 1;

        public long LineAt(ReadOnlySpan<byte> bytes, long target)
        {
            line += bytes[(int)offset..(int)target].Count((byte)'\n');
            offset = target;
            return line;
        }
    }
}

/// <summary>Typed field access for one JSON record; a missing or mistyped field is a <see cref="MalformedRecordException"/>
/// naming the field.</summary>
internal static class JsonFields
{
    public static JsonElement Object(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object)
            throw new MalformedRecordException($"expected an object, found {Kind(record)}");
        return record;
    }

    public static string Text(JsonElement record, string name) =>
        OptionalText(record, name) ?? throw new MalformedRecordException($"field '{name}' is missing");

    public static string? OptionalText(JsonElement record, string name)
    {
        if (!Object(record).TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new MalformedRecordException($"field '{name}' is {Kind(value)}, not a string");
    }

    /// <summary>An id, number or string, as text (numbers as written: COCO's 391895 -> "391895").</summary>
    public static string Id(JsonElement record, string name) =>
        OptionalId(record, name) ?? throw new MalformedRecordException($"field '{name}' is missing");

    public static string? OptionalId(JsonElement record, string name)
    {
        if (!Object(record).TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number when value.TryGetInt64(out long n) => n.ToString(CultureInfo.InvariantCulture),
            _ => throw new MalformedRecordException($"field '{name}' is {Kind(value)}, not an integer or string id"),
        };
    }

    public static JsonElement Array(JsonElement record, string name)
    {
        if (!Object(record).TryGetProperty(name, out var value))
            throw new MalformedRecordException($"field '{name}' is missing");
        return value.ValueKind == JsonValueKind.Array
            ? value
            : throw new MalformedRecordException($"field '{name}' is {Kind(value)}, not an array");
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
