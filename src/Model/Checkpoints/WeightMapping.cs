namespace CaptionService.Model.Checkpoints;

public enum MappingKind
{
    /// <summary>Copied as it is (dtype converted to the model's).</summary>
    Copy,
    /// <summary>A 2-D weight stored [in, out] (GPT-2's Conv1D): transposed into our Linear's [out, in].</summary>
    Transpose,
    /// <summary>Not loaded, but must equal the tensor loaded into <see cref="WeightMapping.Target"/> (GPT-2's lm_head = wte).</summary>
    Tied,
    /// <summary>Not part of the captioner (classifier heads, poolers, causal-mask buffers).</summary>
    Ignore,
}

/// <summary>What to do with one tensor of a source file. Targets are our parameter names.</summary>
public sealed record WeightMapping(MappingKind Kind, string? Target = null, string? Reason = null)
{
    public static WeightMapping Copy(string target) => new(MappingKind.Copy, target);
    public static WeightMapping Transpose(string target) => new(MappingKind.Transpose, target);
    public static WeightMapping TiedTo(string target) => new(MappingKind.Tied, target);
    public static WeightMapping Ignore(string reason) => new(MappingKind.Ignore, Reason: reason);
}

/// <summary>One source file: its tensors' names and shapes, and how each name maps into the model.</summary>
/// <param name="Label">short name prefixed to tensor names in messages when a plan reads several files</param>
/// <param name="Path">the file, for messages</param>
public sealed record WeightFile(string Label, string Path, IReadOnlyDictionary<string, long[]> Shapes, Func<string, WeightMapping> Map);
