using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>Carries out an <see cref="ImportPlan"/>: checks ties, then copies into the model's existing parameters.</summary>
internal static class WeightCopier
{
    /// <param name="tensors">the loaded tensors of each of the plan's files, same order; not disposed here</param>
    public static ImportReport Apply(Captioner model, ImportPlan plan, IReadOnlyList<IReadOnlyDictionary<string, Tensor>> tensors,
        IReadOnlyList<string>? notes = null)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope(); // dtype conversions and transposes are temporaries
        var parameters = ImportPlan.TensorsOf(model);

        Tensor Source(PlannedTensor p)
        {
            var t = tensors[p.File][p.Source];
            if (!t.is_floating_point())
                throw new InvalidDataException($"{plan.Files[p.File].Path}: '{p.Source}' is {t.dtype}, not a floating-point tensor");
            return p.Kind == MappingKind.Transpose ? t.t() : t; // Conv1D [in, out] -> Linear [out, in]
        }

        // Ties first, so that a rejected file leaves the model untouched.
        foreach (var tie in plan.Ties)
        {
            var loaded = plan.Loads.FirstOrDefault(l => l.Target == tie.Target)
                ?? throw new InvalidDataException($"'{tie.Source}' is tied to {tie.Target}, which no tensor fills");
            var (a, b) = (Source(tie).to(float32), Source(loaded).to(float32));
            if (!a.equal(b).all().item<bool>())
                throw new InvalidDataException(
                    $"{plan.Files[tie.File].Path}: '{tie.Source}' differs from '{loaded.Source}' (max |difference| " +
                    $"{(a - b).abs().max().item<float>():g3}); this model ties {tie.Target} to the output head and cannot load an untied head");
        }

        foreach (var load in plan.Loads)
            parameters[load.Target].copy_(Source(load)); // copy_ converts dtype (fp16/bf16 -> model) and device

        return new ImportReport(plan.Loads.Count, plan.NewParameters, plan.Ignored, notes ?? []);
    }

    /// <summary>Builds a fresh model from the sources' config, plans the copy against its shapes,
    /// and copies. The model is disposed if anything fails; the sources always are.</summary>
    public static ImportResult BuildAndCopy(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> sources, Func<ModelConfig> config,
        Func<ModelConfig, Dictionary<string, long[]>, ImportPlan> plan, IReadOnlyList<string>? notes = null)
    {
        try
        {
            var model = new Captioner(config());
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
            DisposeAll(sources);
        }
    }

    public static void DisposeAll(IEnumerable<IReadOnlyDictionary<string, Tensor>> tensors)
    {
        foreach (var dict in tensors)
            foreach (var t in dict.Values) t.Dispose();
    }
}
