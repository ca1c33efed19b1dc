using CaptionService.Model.Vision;
using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// Newcomers on their way into a <see cref="DecodingBatch"/> (<see cref="DecodingBatch.BeginAdmit"/>): their images
/// go through the ViT a few blocks at a time (<see cref="Advance"/>), between the decoding steps of the captions
/// already running, so that no running caption waits for a whole encoder pass at once; then
/// <see cref="DecodingBatch.Admit(Admission)"/> joins them. It owns the encoder's states until then; dispose it.
/// </summary>
public sealed class Admission : IDisposable
{
    private readonly VisionEncoder encoder;
    private readonly ViTEncoding encoding;

    internal Admission(VisionEncoder encoder, ViTEncoding encoding, IReadOnlyList<DecodingGroup> groups)
    {
        (this.encoder, this.encoding, Groups) = (encoder, encoding, groups);
    }

    public IReadOnlyList<DecodingGroup> Groups { get; private set; }

    public int BlocksDone => encoding.BlocksDone;

    public bool IsEncoded => encoder.IsDone(encoding);

    /// <summary>Runs up to <paramref name="blocks"/> more encoder blocks on the newcomers' images.</summary>
    public void Advance(int blocks)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        encoder.Continue(encoding, blocks);
        encoding.DetachFromDisposeScope();
    }

    /// <summary>Keeps only the newcomers at <paramref name="indices"/> (ascending, into <see cref="Groups"/>): the
    /// others left before joining (their clients went away), and their images' states are freed now.</summary>
    public void Keep(IReadOnlyList<int> indices)
    {
        if (indices.Where((i, n) => i < 0 || i >= Groups.Count || (n > 0 && i <= indices[n - 1])).Any())
            throw new ArgumentException($"expected ascending indices below {Groups.Count}, got [{string.Join(", ", indices)}]", nameof(indices));
        if (indices.Count == Groups.Count) return;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var index = tensor(indices.Select(i => (long)i).ToArray(), device: encoding.States[0].device);
        for (int s = 0; s < encoding.States.Count; s++)
        {
            var kept = encoding.States[s].index_select(0, index).DetachFromDisposeScope();
            encoding.States[s].Dispose();
            encoding.States[s] = kept;
        }
        Groups = indices.Select(i => Groups[i]).ToList();
    }

    /// <summary>What the decoder attends to (in the caller's dispose scope), once every block has run.</summary>
    internal Tensor[] States() => encoder.End(encoding);

    public void Dispose() => encoding.Dispose();
}
