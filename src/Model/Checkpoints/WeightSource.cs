using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// Reads a flat state dict (name -> tensor, on the CPU) from a <c>.safetensors</c> file or a PyTorch
/// zip pickle (<c>pytorch_model.bin</c>, <c>*.pth</c>, <c>*.pt</c>) through TorchSharp.PyBridge.
/// The format is told by the file's first bytes, not its name. Every error names the file.
/// </summary>
public static class WeightSource
{
    /// <summary>The names looked for, in order, when given a directory.</summary>
    public static IReadOnlyList<string> DefaultFileNames { get; } = ["model.safetensors", "pytorch_model.bin"];

    private static readonly string[] WeightExtensions = [".safetensors", ".bin", ".pth", ".pt"];

    /// <summary>The weights file itself, or the one weights file inside a directory.</summary>
    public static string Find(string fileOrDirectory)
    {
        if (File.Exists(fileOrDirectory)) return fileOrDirectory;
        if (!Directory.Exists(fileOrDirectory))
            throw new FileNotFoundException($"Weights not found: {fileOrDirectory}", fileOrDirectory);
        foreach (var name in DefaultFileNames)
            if (File.Exists(Path.Combine(fileOrDirectory, name))) return Path.Combine(fileOrDirectory, name);
        var candidates = Directory.EnumerateFiles(fileOrDirectory)
            .Where(f => WeightExtensions.Contains(Path.GetExtension(f))).Order().ToList();
        if (candidates.Count == 1) return candidates[0];
        throw new FileNotFoundException(
            $"No weights file in {fileOrDirectory}: looked for {string.Join(", ", DefaultFileNames)}" +
            (candidates.Count > 1 ? $" and found several candidates ({string.Join(", ", candidates.Select(Path.GetFileName))})" : " or a single *.safetensors/*.bin/*.pth/*.pt"),
            Path.Combine(fileOrDirectory, DefaultFileNames[0]));
    }

    /// <summary>Every tensor of the file, on the CPU, in the file's dtype. The caller disposes them.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        try
        {
            if (IsSafetensors(path))
            {
                SafetensorsHeader.Read(path); // validates names, dtypes and offsets before reading any data
                return Safetensors.LoadStateDict(path);
            }
            using var stream = File.OpenRead(path);
            var table = PyTorchUnpickler.UnpickleStateDict(stream);
            var result = new Dictionary<string, Tensor>();
            foreach (DictionaryEntry entry in table)
                result[(string)entry.Key] = entry.Value as Tensor ?? throw new InvalidDataException(
                    $"{path}: not a flat state dict: '{entry.Key}' holds a {entry.Value?.GetType().Name ?? "null"}, not a tensor");
            return result;
        }
        catch (Exception e) when (e is not (InvalidDataException or FileNotFoundException))
        {
            throw new InvalidDataException($"{path}: cannot read weights: {e.Message}", e);
        }
    }

    /// <summary>Names and shapes only: safetensors reads just the header; a pickle is loaded and released.</summary>
    public static Dictionary<string, long[]> ReadShapes(string path)
    {
        if (IsSafetensors(path))
            return SafetensorsHeader.Read(path).ToDictionary(e => e.Key, e => e.Value.Shape);
        using var scope = NewDisposeScope();
        return ShapesOf(Load(path));
    }

    public static Dictionary<string, long[]> ShapesOf(IReadOnlyDictionary<string, Tensor> tensors) =>
        tensors.ToDictionary(e => e.Key, e => e.Value.shape);

    /// <summary>True for safetensors, false for a PyTorch zip pickle; throws for anything else.</summary>
    public static bool IsSafetensors(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file not found: {path}", path);
        var head = new byte[9];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n == 9 && head[8] == '{') return true; // 8-byte little-endian header length, then the JSON header
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return false; // zip: torch.save since 1.6
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5) // a bare pickle stream (PROTO opcode): torch.save before 1.6
            throw new InvalidDataException($"{path}: a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format, which cannot be read here; " +
                "re-save it with torch.save(state_dict, path) from a recent PyTorch, or convert it to safetensors");
        throw new InvalidDataException($"{path}: neither a safetensors file nor a PyTorch (zip) checkpoint");
    }
}
