using System.Text;
using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A checkpoint directory: <c>config.json</c> (<see cref="ModelConfig.ToJson"/>) and
/// <c>model.safetensors</c> (our state-dict names, tensors in the model's dtype as saved).
/// </summary>
public static partial class Checkpoint
{
    public const string ConfigFileName = "config.json";
    public const string WeightsFileName = "model.safetensors";

    /// <summary>Writes config and weights (each to a temporary file, then renamed over the old one).
    /// Tensors are stored as they are (dtype kept); the names are <see cref="ImportPlan.TensorsOf"/>'s.</summary>
    public static void Save(Captioner model, string dir)
    {
        Directory.CreateDirectory(dir);
        SaveWeights(model, Path.Combine(dir, WeightsFileName));
        WriteAtomically(Path.Combine(dir, ConfigFileName), stream => stream.Write(Encoding.UTF8.GetBytes(model.Config.ToJson())));
    }

    /// <summary>
    /// Builds the model from <c>config.json</c> and fills it from <c>model.safetensors</c> after checking
    /// every name and shape, one tensor at a time (the file is never held whole in memory beside the model).
    /// A Hugging Face VisionEncoderDecoder ViT-GPT2 directory is converted (<see cref="HfImporter"/>): as it loads,
    /// or, given <paramref name="convertedWeights"/>, once: the first load writes its weights there in our layout
    /// and later loads read them (the config always comes from the HF files). Any other kind of model is refused
    /// (<see cref="CheckpointFormats.Detect"/>). Returned in eval mode.
    /// </summary>
    /// <param name="dtype">the model's dtype; null keeps float32. Stored tensors of another float dtype are converted.</param>
    /// <param name="convertedWeights">for an HF directory: where its weights, converted once, are kept (e.g. beside the
    /// Hugging Face cache, keyed by the commit); null converts at every load</param>
    /// <exception cref="FileNotFoundException">the directory, config or weights file is missing</exception>
    /// <exception cref="InvalidDataException">the config is malformed or invalid (file, line, field), or describes another kind of model</exception>
    /// <exception cref="CheckpointMismatchException">names or shapes of the weights do not fit the config</exception>
    public static Captioner Load(string dir, Device? device = null, ScalarType? dtype = null, string? convertedWeights = null)
    {
        var model = CheckpointFormats.Detect(dir) == CheckpointFormat.HfVisionEncoderDecoder
            ? HfImporter.Load(dir, convertedWeights)
            : LoadWeights(ReadConfig(dir), Path.Combine(dir, WeightsFileName));
        try
        {
            if (dtype is ScalarType type) model.to(type);
            if (device is not null) model.to(device);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>A model of <paramref name="config"/> filled from a safetensors file under our names, every name and shape checked.</summary>
    internal static Captioner LoadWeights(ModelConfig config, string weights)
    {
        if (!File.Exists(weights)) throw new FileNotFoundException($"Checkpoint weights not found: {weights}", weights);
        using var reader = WeightReader.Open(weights); // header only so far: mismatches fail before reading any data
        var model = new Captioner(config, initialize: false); // every weight comes from the file
        try
        {
            var plan = ImportPlan.Build([new WeightFile("", weights, reader.Shapes, WeightMapping.Copy)], ImportPlan.ShapesOf(model));
            WeightCopier.Apply(model, plan, [reader]);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Just the weights (our names, as <see cref="Save"/> writes them), atomically.</summary>
    internal static void SaveWeights(Captioner model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var scope = NewDisposeScope();
        var tensors = ImportPlan.TensorsOf(model).ToDictionary(e => e.Key,
            e => e.Value.device_type == DeviceType.CPU && e.Value.is_contiguous() ? e.Value : e.Value.cpu().contiguous());
        WriteAtomically(path, stream => Safetensors.SaveStateDict(stream, tensors, leaveOpen: true));
    }

    /// <summary>Reads and validates <c>config.json</c>; every problem is reported with the file, line and field.</summary>
    public static ModelConfig ReadConfig(string dir)
    {
        if (!Directory.Exists(dir)) throw new FileNotFoundException($"Checkpoint directory not found: {dir}", dir);
        var path = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint config not found: {path}", path);
        var json = File.ReadAllText(path);
        var config = ModelConfig.FromJson(json, path); // JSON and type errors carry their line already
        var errors = config.Validate().Select(e => $"{path}{Where(json, e)}: {e}").ToList();
        if (errors.Count > 0)
            throw new InvalidDataException($"Invalid checkpoint config ({errors.Count} problems):\n  " + string.Join("\n  ", errors));
        return config;
    }

    /// <summary>", line N" of the field an error starts with (errors begin with the snake_case field name),
    /// or " (default value)" when the file does not set it.</summary>
    private static string Where(string json, string error)
    {
        var field = FieldName().Match(error).Value.Split('.')[^1];
        if (field.Length == 0) return "";
        var key = Regex.Match(json, $"\"{Regex.Escape(field)}\"\\s*:");
        return key.Success ? $", line {json.AsSpan(0, key.Index).Count('\n') + 1}" : " (default value)";
    }

    [GeneratedRegex(@"^[a-z_.]+")]
    private static partial Regex FieldName();

    private static void WriteAtomically(string path, Action<Stream> write)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp"; // two processes writing at once each rename a whole file
        using (var stream = File.Create(temporary)) write(stream);
        File.Move(temporary, path, overwrite: true);
    }
}
