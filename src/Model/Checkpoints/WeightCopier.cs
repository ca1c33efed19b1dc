using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>Carries out an <see cref="ImportPlan"/>: copies into the model's existing parameters, one tensor at a time, then checks ties.</summary>
internal static class WeightCopier
{
    /// <param name="files">the readers of each of the plan's files, same order; not disposed here</param>
    /// <remarks>A tensor that fits its parameter as it is goes straight from the file into the parameter; any other
    /// (another dtype, GPT-2's Conv1D layout) through one temporary tensor, so the file is never held whole in memory.
    /// On failure the model is left part-filled: callers dispose it.</remarks>
    public static ImportReport Apply(Captioner model, ImportPlan plan, IReadOnlyList<WeightReader> files, IReadOnlyList<string>? notes = null)
    {
        using var noGrad = no_grad();
        var parameters = ImportPlan.TensorsOf(model);

        Tensor Source(PlannedTensor p)
        {
            var t = files[p.File].Read(p.Source);
            if (!t.is_floating_point())
                throw new InvalidDataException($"{plan.Files[p.File].Path}: '{p.Source}' is {t.dtype}, not a floating-point tensor");
            return p.Kind == MappingKind.Transpose ? t.t() : t; // Conv1D [in, out] -> Linear [out, in]
        }

        foreach (var load in plan.Loads)
        {
            var target = parameters[load.Target];
            if (load.Kind == MappingKind.Copy && files[load.File].TryReadInto(load.Source, target)) continue;
            using var scope = NewDisposeScope(); // the temporary and its transposed view
            target.copy_(Source(load)); // copy_ converts dtype (fp16/bf16 -> model) and device
        }

        // A tied tensor must equal what its parameter now holds (exactly: both widened to fp32).
        foreach (var tie in plan.Ties)
        {
            using var scope = NewDisposeScope();
            var loaded = plan.Loads.FirstOrDefault(l => l.Target == tie.Target)
                ?? throw new InvalidDataException($"'{tie.Source}' is tied to {tie.Target}, which no tensor fills");
            var (a, b) = (Source(tie).to(float32), parameters[tie.Target].to(float32));
            if (!a.equal(b).all().item<bool>())
                throw new InvalidDataException(
                    $"{plan.Files[tie.File].Path}: '{tie.Source}' differs from '{loaded.Source}' (max |difference| " +
                    $"{(a - b).abs().max().item<float>():g3}); this model ties {tie.Target} to the output head and cannot load an untied head");
        }

        return new ImportReport(plan.Loads.Count, plan.NewParameters, plan.Ignored, notes ?? []);
    }

    /// <summary>Builds a fresh model from the sources' config, plans the copy against its shapes,
    /// and copies. The model is disposed if anything fails; the sources always are.</summary>
    /// <param name="initialize">false when every parameter comes from the sources (no random init to pay for)</param>
    public static ImportResult BuildAndCopy(IReadOnlyList<WeightReader> sources, Func<ModelConfig> config,
        Func<ModelConfig, Dictionary<string, long[]>, ImportPlan> plan, IReadOnlyList<string>? notes = null, bool initialize = true)
    {
        try
        {
            var model = new Captioner(config(), initialize);
            try
            {
                var report = Apply(model, plan(model.Config, ImportPlan.ShapesOf(model)), sources, notes);
                model.eval();
                return new ImportResult(model, report);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var source in sources) source.Dispose();
        }
    }

    /// <summary><see cref="BuildAndCopy(IReadOnlyList{WeightReader}, Func{ModelConfig}, Func{ModelConfig, Dictionary{string, long[]}, ImportPlan}, IReadOnlyList{string}?, bool)"/>
    /// for tensors already in memory; they are disposed at the end.</summary>
    public static ImportResult BuildAndCopy(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> sources, Func<ModelConfig> config,
        Func<ModelConfig, Dictionary<string, long[]>, ImportPlan> plan, IReadOnlyList<string>? notes = null)
    {
        try
        {
            return BuildAndCopy(sources.Select(s => WeightReader.InMemory("memory", s)).ToList(), config, plan, notes);
        }
        finally
        {
            DisposeAll(sources);
        }
    }

    public static void DisposeAll(IEnumerable<IReadOnlyDictionary<string, Tensor>> tensors)
    {
        foreach (var dict in tensors)
            foreach (var t in dict.Values) t.Dispose();
    }
}
