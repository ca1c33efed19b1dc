using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// A running batch of captions being decoded together: continuous (iteration-level) batching.
/// Captions join between steps (<see cref="Admit"/>: their images are encoded together and their
/// rows appended to the KV cache at their own positions), every <see cref="Step"/> decodes one token
/// for every row at once, and a caption leaves the batch the moment it is done (or is
/// <see cref="Remove">removed</see>). Greedy, sampling and beam captions with different options
/// share one batch. Whoever creates a group disposes it. Not thread-safe: one thread drives it.
/// </summary>
public sealed class DecodingBatch(Captioner model, int capacity) : IDisposable
{
    private readonly List<DecodingGroup> groups = [];   // in row order; group g holds rows [offset(g), offset(g) + g.Rows)
    private KvCache? cache;
    private Tensor? next;                               // [Rows] int64: the token each row feeds at the next step

    /// <summary>Most tokens a caption may take in this batch (the KV cache's positions per row).</summary>
    public int Capacity { get; } = capacity <= model.Config.MaxPositions - 1 ? capacity
        : throw new ArgumentOutOfRangeException(nameof(capacity), $"a batch of {capacity} tokens per caption exceeds the model's max_positions - 1 ({model.Config.MaxPositions - 1})");

    public IReadOnlyList<DecodingGroup> Groups => groups;

    /// <summary>Sequences decoded at each step (a beam caption counts its beams).</summary>
    public int Rows => groups.Sum(g => g.Rows);

    public bool IsEmpty => groups.Count == 0;

    /// <summary>Encodes the newcomers' images in one pass and adds their rows to the batch.</summary>
    /// <param name="pixels">[N, 3, S, S] normalized images, one per group</param>
    public void Admit(Tensor pixels, IReadOnlyList<DecodingGroup> newcomers)
    {
        if (pixels.shape[0] != newcomers.Count)
            throw new ArgumentException($"{pixels.shape[0]} images for {newcomers.Count} captions");
        if (newcomers.FirstOrDefault(g => g.MaxNewTokens > Capacity) is { } tooLong)
            throw new ArgumentException($"max_new_tokens {tooLong.MaxNewTokens} exceeds the batch's capacity of {Capacity} tokens per caption");
        if (newcomers.Count == 0) return;

        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var states = model.Encode(pixels.to(model.DType, model.Device));                 // per block [N, S, C]
        // Row r of the newcomers belongs to image imageOfRow[r] (a beam caption has K rows).
        var imageOfRow = newcomers.SelectMany((g, i) => Enumerable.Repeat((long)i, g.InitialRows)).ToArray();
        if (imageOfRow.Length != newcomers.Count)
        {
            var index = tensor(imageOfRow, device: model.Device);
            states = states.Select(s => s.index_select(0, index)).ToArray();
        }

        var joining = model.StartDecoding(states, Capacity);
        var start = full(imageOfRow.Length, (long)model.Config.BosTokenId, dtype: ScalarType.Int64, device: model.Device);
        if (cache is null)
        {
            cache = joining;
            Replace(start);
        }
        else
        {
            cache.Join(joining);
            Replace(cat([next!, start]));
        }
        foreach (var g in newcomers) g.Join();
        groups.AddRange(newcomers);
    }

    /// <summary>Decodes one token for every row; returns the captions that ended at this step
    /// (they have left the batch; the caller disposes them).</summary>
    public IReadOnlyList<DecodingGroup> Step()
    {
        if (cache is null) return [];
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var logits = model.Step(next!, cache).to(ScalarType.Float32);                     // [R, V]

        int offset = 0;
        foreach (var g in groups)
        {
            g.Process(logits.narrow(0, offset, g.Rows));
            offset += g.Rows;
        }
        var logProbs = logits.log_softmax(-1);
        // Greedy rows read these. The arg-max of the logits, not of the log-probabilities: subtracting
        // the log-sum-exp can round two close logits to a tie.
        var argMax = logits.argmax(-1);
        var argMaxLogProb = logProbs.gather(-1, argMax.unsqueeze(-1)).squeeze(-1);
        var shared = new SharedStep(logProbs, argMax.cpu().data<long>().ToArray(), argMaxLogProb.cpu().data<float>().ToArray(), 0);

        var keep = new List<long>();
        var tokens = new List<long>();
        var done = new List<DecodingGroup>();
        offset = 0;
        foreach (var g in groups)
        {
            int rows = g.Rows;
            var (local, chosen) = g.Advance(logits.narrow(0, offset, rows), shared with { Offset = offset });
            keep.AddRange(local.Select(r => offset + r));
            tokens.AddRange(chosen);
            if (g.IsDone) done.Add(g);
            offset += rows;
        }
        groups.RemoveAll(g => g.IsDone);
        Keep(keep, offset);
        if (cache is not null) Replace(tensor(tokens.ToArray(), device: model.Device));
        return done;
    }

    /// <summary>Takes a caption out of the batch before it is done (its client went away).</summary>
    public void Remove(DecodingGroup group)
    {
        int start = 0;
        foreach (var g in groups)
        {
            if (g == group) break;
            start += g.Rows;
        }
        if (!groups.Remove(group)) return;
        int total = Rows + group.Rows;
        var keep = Enumerable.Range(0, total).Where(r => r < start || r >= start + group.Rows).Select(r => (long)r).ToList();
        using var scope = NewDisposeScope();
        var nextTokens = next!;
        Keep(keep, total);
        if (cache is not null)
        {
            using var index = tensor(keep.ToArray(), device: model.Device);
            Replace(nextTokens.index_select(0, index));
        }
    }

    /// <summary>Keeps the given rows of the cache (in order); drops the cache when none is left.</summary>
    private void Keep(List<long> rows, int total)
    {
        if (rows.Count == 0)
        {
            cache!.Dispose();
            cache = null;
            Replace(null);
            return;
        }
        if (rows.Count == total && rows.Select((r, i) => r == i).All(same => same)) return;
        using var index = tensor(rows.ToArray(), device: model.Device);
        cache!.Select(index);
    }

    private void Replace(Tensor? tokens)
    {
        var old = next;
        next = tokens?.DetachFromDisposeScope();
        old?.Dispose();
    }

    /// <summary>Frees the cache. The groups stay their creator's to dispose.</summary>
    public void Dispose()
    {
        groups.Clear();
        cache?.Dispose();
        Replace(null);
    }
}
