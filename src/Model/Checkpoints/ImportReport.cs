namespace CaptionService.Model.Checkpoints;

/// <summary>A source tensor deliberately left out, and why.</summary>
public sealed record IgnoredTensor(string Source, string Reason)
{
    public override string ToString() => $"{Source} ({Reason})";
}

/// <summary>What an import did: parameters copied, parameters left at their fresh init, tensors ignored.</summary>
public sealed record ImportReport(int Copied, IReadOnlyList<string> NewParameters, IReadOnlyList<IgnoredTensor> Ignored,
    IReadOnlyList<string> Notes)
{
    public override string ToString() =>
        $"copied {Copied} tensors, {NewParameters.Count} new parameters left at their initial values, " +
        $"ignored {Ignored.Count} source tensors" + string.Concat(Notes.Select(n => "; " + n));
}

/// <summary>An imported model (in eval mode, fp32, on the CPU) and its report.</summary>
public sealed record ImportResult(Captioner Model, ImportReport Report);
