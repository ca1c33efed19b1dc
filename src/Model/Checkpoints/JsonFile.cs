using System.Text.Json;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A JSON object from a Hugging Face config file, read leniently (unknown keys are fine, null means
/// absent) with errors that name the file and the key.
/// </summary>
internal sealed class JsonFile
{
    private readonly JsonElement root;
    private readonly string prefix;

    public string Path { get; }

    private JsonFile(JsonElement root, string path, string prefix) => (this.root, Path, this.prefix) = (root, path, prefix);

    public static JsonFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Config not found: {path}", path);
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} (line {e.LineNumber + 1}): {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
        return new JsonFile(root, path, "");
    }

    public JsonElement? Raw(string key) =>
        root.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    /// <summary>A nested object (like a VisionEncoderDecoder config's <c>encoder</c>), or null when absent.</summary>
    public JsonFile? Child(string key) => Raw(key) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } e => new JsonFile(e, Path, $"{prefix}{key}."),
        _ => throw Error(key, "must be an object"),
    };

    public int? Int(string key) => Raw(key) is { } e
        ? e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw Error(key, $"must be an integer (got {e.GetRawText()})")
        : null;

    public double? Double(string key) => Raw(key) is { } e
        ? e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Error(key, $"must be a number (got {e.GetRawText()})")
        : null;

    public bool? Bool(string key) => Raw(key) is { } e
        ? e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Error(key, $"must be true or false (got {e.GetRawText()})")
        : null;

    public string? String(string key) => Raw(key) is { } e
        ? e.ValueKind == JsonValueKind.String ? e.GetString() : throw Error(key, $"must be a string (got {e.GetRawText()})")
        : null;

    public float[]? Floats(string key) => Raw(key) is { } e
        ? e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number)
            ? e.EnumerateArray().Select(x => x.GetSingle()).ToArray()
            : throw Error(key, $"must be an array of numbers (got {e.GetRawText()})")
        : null;

    /// <summary>"path: key message", with the key's full dotted name.</summary>
    public InvalidDataException Error(string key, string message) => new($"{Path}: {prefix}{key} {message}");
}
