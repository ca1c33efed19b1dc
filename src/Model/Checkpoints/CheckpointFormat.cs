using System.Text.Json;

namespace CaptionService.Model.Checkpoints;

/// <summary>What a checkpoint directory holds, told by its <c>config.json</c>.</summary>
public enum CheckpointFormat
{
    /// <summary>Ours: <see cref="ModelConfig"/> as config.json, weights in model.safetensors under our names.</summary>
    CaptionService,
    /// <summary>A Hugging Face VisionEncoderDecoder with a ViT encoder and a GPT-2 decoder (converted at load by <see cref="HfImporter"/>).</summary>
    HfVisionEncoderDecoder,
}

public static class CheckpointFormats
{
    /// <summary>What can be served, for the one-line refusals.</summary>
    public const string Supported = "supported: a ViT-GPT2 captioner, i.e. a Hugging Face VisionEncoderDecoder with a vit encoder and a gpt2 decoder " +
        "(like nlpconnect/vit-gpt2-image-captioning), or a CaptionService checkpoint";

    /// <summary>
    /// Ours when config.json has none of Hugging Face's or timm's marks (<c>model_type</c>, <c>architectures</c>,
    /// <c>architecture</c>); an HF VisionEncoderDecoder ViT-GPT2 when it says so; anything else is refused with one
    /// line saying what it is (architectures, model_type, the encoder's and decoder's types) and what is supported.
    /// </summary>
    /// <exception cref="FileNotFoundException">no directory or no config.json</exception>
    /// <exception cref="InvalidDataException">not JSON, or another kind of model</exception>
    public static CheckpointFormat Detect(string dir)
    {
        if (!Directory.Exists(dir)) throw new FileNotFoundException($"Checkpoint directory not found: {dir}", dir);
        var path = Path.Combine(dir, Checkpoint.ConfigFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint config not found: {path}", path);
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

        if (Text(root, "architecture") is { } timm && Text(root, "model_type") is null)
            throw new InvalidDataException($"{path}: a timm model ({timm}), not a captioner; {Supported}");
        var modelType = Text(root, "model_type");
        var architectures = root.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
            ? string.Join(", ", a.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()))
            : null;
        if (modelType is null && architectures is null) return CheckpointFormat.CaptionService;

        if (modelType == "vision-encoder-decoder")
        {
            string? Part(string key) => root.TryGetProperty(key, out var p) && p.ValueKind == JsonValueKind.Object ? Text(p, "model_type") : null;
            var (encoder, decoder) = (Part("encoder"), Part("decoder"));
            if (encoder == "vit" && decoder == "gpt2") return CheckpointFormat.HfVisionEncoderDecoder;
            throw new InvalidDataException($"{path}: a VisionEncoderDecoder with a {encoder ?? "unnamed"} encoder and a {decoder ?? "unnamed"} decoder; {Supported}");
        }
        var what = (modelType, architectures) switch
        {
            (null, _) => $"a {architectures} model",
            (_, null or "") => $"a {modelType} model",
            _ => $"a {modelType} model ({architectures})",
        };
        throw new InvalidDataException($"{path}: {what}, not a ViT-GPT2 captioner; {Supported}");
    }

    private static string? Text(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
