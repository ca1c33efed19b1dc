using System.Text.Json;
using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>The JSON header of a safetensors file: name -> dtype, shape and byte range.</summary>
internal static class SafetensorsHeader
{
    /// <param name="Offset">where the tensor's bytes start, from the beginning of the file</param>
    public readonly record struct Entry(string DType, long[] Shape, long Offset);

    private static readonly Dictionary<string, int> ElementSizes = new()
    {
        ["F64"] = 8,
        ["F32"] = 4,
        ["F16"] = 2,
        ["BF16"] = 2,
        ["I64"] = 8,
        ["I32"] = 4,
        ["I16"] = 2,
        ["I8"] = 1,
        ["U8"] = 1,
        ["BOOL"] = 1,
    };

    public static ScalarType ScalarTypeOf(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new InvalidDataException($"safetensors dtype {dtype} is not supported"),
    };

    public static Dictionary<string, Entry> Read(string path)
    {
        using var stream = File.OpenRead(path);
        var lengthBytes = new byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > (ulong)Math.Min(stream.Length - 8, 100_000_000))
            throw new InvalidDataException($"{path}: safetensors header length {headerLength} exceeds the file");
        var json = new byte[headerLength];
        stream.ReadExactly(json);
        long dataLength = stream.Length - 8 - (long)headerLength;

        var entries = new Dictionary<string, Entry>();
        try
        {
            using var doc = JsonDocument.Parse(json);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                var value = property.Value;
                string dtype = value.GetProperty("dtype").GetString() ?? "";
                var shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (!ElementSizes.TryGetValue(dtype, out int size))
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' has dtype {dtype}, which is not supported");
                long bytes = shape.Aggregate(1L, (a, b) => a * b) * size;
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != bytes || offsets[1] > dataLength)
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' has byte range [{string.Join(", ", offsets)}], " +
                        $"which does not fit its shape {Shapes.Format(shape)} {dtype} or the file (truncated?)");
                entries[property.Name] = new Entry(dtype, shape, 8 + (long)headerLength + offsets[0]);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: malformed safetensors header: {e.Message}", e);
        }
        return entries;
    }
}
