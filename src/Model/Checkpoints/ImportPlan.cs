using TorchSharp;

namespace CaptionService.Model.Checkpoints;

/// <summary>One source tensor headed for one model parameter.</summary>
/// <param name="File">index into <see cref="ImportPlan.Files"/></param>
public sealed record PlannedTensor(int File, string Source, MappingKind Kind, string Target);

/// <summary>
/// Which source tensor fills which model parameter, worked out from names and shapes alone (no
/// tensor data), so it can be checked at full size without allocating weights.
/// <see cref="Build"/> accepts a plan only when every model parameter is filled exactly once (or is
/// allowed to stay new), every source tensor is used, tied or explicitly ignored, and every shape fits.
/// </summary>
public sealed class ImportPlan
{
    public required IReadOnlyList<WeightFile> Files { get; init; }
    /// <summary>Copy or Transpose entries, one per filled parameter, in the files' order.</summary>
    public required IReadOnlyList<PlannedTensor> Loads { get; init; }
    /// <summary>Tensors that must equal an already loaded parameter (checked before anything is copied).</summary>
    public required IReadOnlyList<PlannedTensor> Ties { get; init; }
    public required IReadOnlyList<IgnoredTensor> Ignored { get; init; }
    /// <summary>Model parameters no file fills: they keep their initial values.</summary>
    public required IReadOnlyList<string> NewParameters { get; init; }

    /// <summary>Throws one <see cref="CheckpointMismatchException"/> listing everything that does not fit.</summary>
    /// <param name="model">the model's state-dict names and shapes (<see cref="ShapesOf"/>)</param>
    /// <param name="mayStayNew">parameters allowed to keep their initial values when no file fills them</param>
    public static ImportPlan Build(IReadOnlyList<WeightFile> files, IReadOnlyDictionary<string, long[]> model,
        Func<string, bool>? mayStayNew = null)
    {
        var (loads, ties, ignored) = (new List<PlannedTensor>(), new List<PlannedTensor>(), new List<IgnoredTensor>());
        var (missing, unexpected, shapes) = (new List<string>(), new List<string>(), new List<ShapeMismatch>());
        var filledBy = new Dictionary<string, string>();
        var misfits = new HashSet<string>(); // targets already reported as shape mismatches
        var order = model.Keys.Select((name, i) => (name, i)).ToDictionary(e => e.name, e => e.i);

        for (int f = 0; f < files.Count; f++)
        {
            foreach (var (name, shape) in files[f].Shapes.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                string shown = files.Count > 1 ? $"{files[f].Label}: {name}" : name;
                var map = files[f].Map(name);
                if (map.Kind == MappingKind.Ignore) { ignored.Add(new(shown, map.Reason ?? "ignored")); continue; }

                string target = map.Target!;
                string arrow = target == name ? "" : $" -> {target}";
                if (!model.TryGetValue(target, out var want)) { unexpected.Add(shown + (arrow == "" ? "" : arrow + " (no such parameter)")); continue; }

                bool transpose = map.Kind == MappingKind.Transpose;
                var have = transpose && shape.Length == 2 ? [shape[1], shape[0]] : shape;
                if (!have.SequenceEqual(want))
                {
                    shapes.Add(new ShapeMismatch(shown + arrow, shape, want, transpose) { Target = target });
                    misfits.Add(target);
                    continue;
                }
                if (map.Kind == MappingKind.Tied) { ties.Add(new(f, name, map.Kind, target)); continue; }
                if (!filledBy.TryAdd(target, shown)) { unexpected.Add($"{shown}{arrow} (already filled by {filledBy[target]})"); continue; }
                loads.Add(new(f, name, map.Kind, target));
            }
        }

        var fresh = new List<string>();
        foreach (var name in model.Keys)
        {
            if (filledBy.ContainsKey(name) || misfits.Contains(name)) continue;
            if (mayStayNew?.Invoke(name) == true) fresh.Add(name);
            else missing.Add(name);
        }
        if (missing.Count + unexpected.Count + shapes.Count > 0)
            throw new CheckpointMismatchException(string.Join(" + ", files.Select(f => f.Path)), missing, unexpected,
                shapes.OrderBy(s => order[s.Target]).ToList()); // in the model's order, like missing
        return new ImportPlan { Files = files, Loads = loads, Ties = ties, Ignored = ignored, NewParameters = fresh };
    }

    /// <summary>A module's parameters and persistent buffers by name, in registration order.</summary>
    public static Dictionary<string, torch.Tensor> TensorsOf(torch.nn.Module module)
    {
        var result = new Dictionary<string, torch.Tensor>();
        foreach (var (name, p) in module.named_parameters()) result.TryAdd(name, p);
        foreach (var (name, b) in module.named_buffers(include_nonpersistent: false)) result.TryAdd(name, b);
        return result;
    }

    /// <summary>The names and shapes of <see cref="TensorsOf"/>.</summary>
    public static Dictionary<string, long[]> ShapesOf(torch.nn.Module module) =>
        TensorsOf(module).ToDictionary(e => e.Key, e => e.Value.shape);
}
