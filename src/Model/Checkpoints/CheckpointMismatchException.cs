using System.Text;

namespace CaptionService.Model.Checkpoints;

/// <summary>A tensor whose shape in the file differs from the model's parameter it feeds.</summary>
/// <param name="Name">the source name, with <c>-&gt; target</c> when the names differ</param>
/// <param name="Checkpoint">the shape as stored in the file</param>
/// <param name="Model">the model parameter's shape</param>
/// <param name="Transposed">the file's tensor is transposed on the way in (GPT-2 Conv1D)</param>
public sealed record ShapeMismatch(string Name, long[] Checkpoint, long[] Model, bool Transposed = false)
{
    /// <summary>The model parameter's name.</summary>
    public string Target { get; init; } = Name;

    public override string ToString() => Transposed && Checkpoint.Length == 2
        ? $"{Name}: checkpoint {Shapes.Format(Checkpoint)}, transposed {Shapes.Format(Checkpoint.Reverse())}, vs model {Shapes.Format(Model)}"
        : $"{Name}: checkpoint {Shapes.Format(Checkpoint)} vs model {Shapes.Format(Model)}";
}

/// <summary>
/// Weights that do not fit the model: every missing parameter, every unexpected tensor and every
/// shape mismatch, gathered in one exception so that one run shows everything that is wrong.
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>How many entries of each list the message shows before "... and N more".</summary>
    public const int ShownPerList = 12;

    public string Origin { get; }
    public IReadOnlyList<string> Missing { get; }
    public IReadOnlyList<string> Unexpected { get; }
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    public CheckpointMismatchException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapeMismatches)
        : base(Describe(source, missing, unexpected, shapeMismatches))
    {
        (Origin, Missing, Unexpected, ShapeMismatches) = (source, missing, unexpected, shapeMismatches);
    }

    private static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes)
    {
        var text = new StringBuilder($"{source} does not match the model: {missing.Count} missing, " +
            $"{unexpected.Count} unexpected, {shapes.Count} with another shape.");
        List("missing from the checkpoint", missing);
        List("unexpected in the checkpoint", unexpected);
        List("shape mismatches", shapes.Select(s => s.ToString()).ToList());
        return text.ToString();

        void List(string title, IReadOnlyList<string> items)
        {
            if (items.Count == 0) return;
            text.Append($"\n{title}:");
            foreach (var item in items.Take(ShownPerList)) text.Append("\n  ").Append(item);
            if (items.Count > ShownPerList) text.Append($"\n  ... and {items.Count - ShownPerList} more");
        }
    }
}

internal static class Shapes
{
    public static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
