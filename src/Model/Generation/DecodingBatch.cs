using CaptionService.Model.Kernels;
using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// A running batch of captions being decoded together: continuous (iteration-level) batching.
/// Captions join between steps (<see cref="Admit(Tensor, IReadOnlyList{DecodingGroup})"/>: their images are encoded together and their
/// rows appended to the KV cache at their own positions), every <see cref="Step"/> decodes one token
/// for every row at once, and a caption leaves the batch the moment it is done (or is
/// <see cref="Remove">removed</see>). Greedy, sampling and beam captions with different options
/// share one batch. Whoever creates a group disposes it. Not thread-safe: one thread drives it.
/// </summary>
/// <remarks>
/// One caption can only ever fail itself. An exception in a caption's own rule (its bans, its
/// sampling, its beams) or rows of the model's output that are not finite fail that caption alone.
/// An exception the model throws for the whole step (a native error, out of memory) cannot be
/// charged to anyone, so the step is taken back and retried on each half of the batch apart, down to
/// the captions it still happens with; every other caption goes on exactly as it would have alone.
/// </remarks>
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

    /// <summary>Encodes the newcomers' images in one pass and adds their rows to the batch. All or
    /// nothing: when it throws, the batch is as it was and no newcomer has joined.</summary>
    /// <param name="pixels">[N, 3, S, S] normalized images, one per group</param>
    public void Admit(Tensor pixels, IReadOnlyList<DecodingGroup> newcomers)
    {
        if (newcomers.Count == 0 && pixels.shape[0] == 0) return;
        using var admission = BeginAdmit(pixels, newcomers);
        admission.Advance(int.MaxValue);
        Admit(admission);
    }

    /// <summary>Starts the newcomers' way in: checks them, embeds their images' patches and returns an
    /// <see cref="Admission"/> to run the encoder's blocks on, a few at a time, then to <see cref="Admit(Admission)"/>.
    /// The batch does not change until then.</summary>
    /// <param name="pixels">[N, 3, S, S] normalized images, one per group; not kept</param>
    public Admission BeginAdmit(Tensor pixels, IReadOnlyList<DecodingGroup> newcomers)
    {
        if (pixels.shape[0] != newcomers.Count)
            throw new ArgumentException($"{pixels.shape[0]} images for {newcomers.Count} captions");
        if (newcomers.FirstOrDefault(g => g.MaxNewTokens > Capacity) is { } tooLong)
            throw new DecodingOptionsException($"max_new_tokens {tooLong.MaxNewTokens} exceeds the batch's capacity of {Capacity} tokens per caption");

        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        FaultInjection.Check(model, FaultPoint.Admission, newcomers);
        var embedded = model.Encoder.Begin(pixels.to(model.DType, model.Device)).DetachFromDisposeScope();
        return new Admission(model.Encoder, embedded, newcomers);
    }

    /// <summary>Adds the rows of newcomers whose images are encoded (<see cref="Admission.IsEncoded"/>) to the
    /// batch. All or nothing: when it throws, the batch is as it was and no newcomer has joined.</summary>
    public void Admit(Admission admission)
    {
        var newcomers = admission.Groups;
        if (newcomers.Count == 0) return;
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var states = admission.States();                                                  // per block [N, S, C]
        // Row r of the newcomers belongs to image imageOfRow[r] (a beam caption has K rows).
        var imageOfRow = newcomers.SelectMany((g, i) => Enumerable.Repeat((long)i, g.InitialRows)).ToArray();
        if (imageOfRow.Length != newcomers.Count)
        {
            var index = tensor(imageOfRow, device: model.Device);
            states = states.Select(s => s.index_select(0, index)).ToArray();
        }

        var start = ScalarSafety.Filled(imageOfRow.Length, model.Config.BosTokenId, model.Device);
        var joining = model.StartDecoding(states, Capacity);
        if (cache is null)
        {
            cache = joining;
            Replace(start);
        }
        else
        {
            try
            {
                var tokens = cat([next!, start]);
                cache.Join(joining);
                Replace(tokens);
            }
            catch
            {
                joining.Dispose();
                throw;
            }
        }
        foreach (var g in newcomers) g.Join();
        groups.AddRange(newcomers);
    }

    /// <summary>Decodes one token for every row. Returns the captions that left the batch at this
    /// step: done, or failed (their <see cref="DecodingGroup.Error"/> says why). The caller disposes them.</summary>
    public IReadOnlyList<DecodingGroup> Step()
    {
        if (cache is null) return [];
        var lengths = cache.Lengths.ToArray();
        if (TryStep(out var left) is not { } error) return left;
        // The model failed for the whole batch: take the step back and find whose rows it fails with.
        cache.Rewind(lengths);
        return StepApart(error);
    }

    /// <summary>One step of the whole batch; returns the model's exception (and changes nothing that
    /// <see cref="KvCache.Rewind"/> cannot undo) when the step fails for the batch as a whole.</summary>
    private Exception? TryStep(out IReadOnlyList<DecodingGroup> left)
    {
        left = [];
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        var rowsOf = groups.Select(g => g.Rows).ToArray();
        Tensor logits;
        SharedStep shared;
        try
        {
            FaultInjection.Check(model, FaultPoint.Step, groups);
            logits = model.Step(next!, cache!).to(ScalarType.Float32);                    // [R, V]
            int offset = 0;
            for (int i = 0; i < groups.Count; i++)
            {
                var (g, rows) = (groups[i], rowsOf[i]);
                Charge(g, () => g.Process(logits.narrow(0, offset, rows)));
                offset += rows;
            }
            // Greedy rows read these. The arg-max of the logits, not of the log-probabilities: subtracting
            // the log-sum-exp can round two close logits to a tie.
            if (model.DecodingOnCpuKernels && logits.device_type == TorchSharp.DeviceType.CPU)
            {
                // One pass over the logits; beams and samples make their own rows' log-probabilities.
                var (argMax, logProb) = CpuKernels.ArgMaxLogProbs(logits);
                shared = new SharedStep(logits, null, argMax, logProb, 0);
            }
            else
            {
                var logProbs = logits.log_softmax(-1);
                var argMax = logits.argmax(-1);
                var argMaxLogProb = logProbs.gather(-1, argMax.unsqueeze(-1)).squeeze(-1);
                shared = new SharedStep(logits, logProbs, argMax.cpu().data<long>().ToArray(), argMaxLogProb.cpu().data<float>().ToArray(), 0);
            }
        }
        catch (Exception e)
        {
            return e;
        }

        var keep = new List<long>();
        var tokens = new List<long>();
        var done = new List<DecodingGroup>();
        int at = 0;
        for (int i = 0; i < groups.Count; i++)
        {
            var (g, rows, offset) = (groups[i], rowsOf[i], at);
            Charge(g, () =>
            {
                // A row with no finite score (NaN or infinite output of the model for its image) has no next token.
                if (Enumerable.Range(offset, rows).Any(r => !float.IsFinite(shared.ArgMaxLogProb[r])))
                    throw new InvalidOperationException("the model's next-token scores for this caption are not finite numbers");
                var (local, chosen) = g.Advance(logits.narrow(0, offset, rows), shared with { Offset = offset });
                keep.AddRange(local.Select(r => offset + r));
                tokens.AddRange(chosen);
            });
            if (g.IsDone) done.Add(g);
            at += rows;
        }
        groups.RemoveAll(g => g.IsDone);
        foreach (var g in done) g.Leave();
        Keep(keep, at);
        if (cache is not null) Replace(tensor(tokens.ToArray(), device: model.Device));
        left = done;
        return null;
    }

    /// <summary>Runs a caption's own part of the step; what it throws fails that caption only.</summary>
    private static void Charge(DecodingGroup group, Action action)
    {
        if (group.IsDone) return;
        try
        {
            action();
        }
        catch (Exception e)
        {
            group.Fail(e);
        }
    }

    /// <summary>After the model failed for the whole batch: a caption alone in it is the cause; else each
    /// half of the batch steps on its own (recursively), and the halves are joined again.</summary>
    private IReadOnlyList<DecodingGroup> StepApart(Exception error)
    {
        var left = groups.Where(g => g.IsDone).ToList();   // failed in their own part before the model's failure
        if (left.Count > 0) RemoveRows(left);
        if (groups.Count == 0) return left;
        if (groups.Count == 1)
        {
            var culprit = groups[0];
            culprit.Fail(error);
            RemoveRows([culprit]);
            left.Add(culprit);
            return left;
        }
        var other = SplitOff(groups.Count / 2);
        try
        {
            left.AddRange(Step());
            left.AddRange(other.Step());
            Absorb(other);
            return left;
        }
        finally
        {
            other.Dispose();
        }
    }

    /// <summary>Moves the groups from <paramref name="firstGroup"/> on, with their rows, into a batch of their own.</summary>
    private DecodingBatch SplitOff(int firstGroup)
    {
        using var scope = NewDisposeScope();
        int head = groups.Take(firstGroup).Sum(g => g.Rows), rows = Rows;
        var other = new DecodingBatch(model, Capacity) { cache = cache!.SplitOff(head) };
        other.Replace(next!.narrow(0, head, rows - head));
        Replace(next!.narrow(0, 0, head));
        other.groups.AddRange(groups.Skip(firstGroup));
        groups.RemoveRange(firstGroup, groups.Count - firstGroup);
        return other;
    }

    /// <summary>Takes back the groups and rows of a batch made by <see cref="SplitOff"/>, after this batch's rows.</summary>
    private void Absorb(DecodingBatch other)
    {
        if (other.cache is { } theirs)
        {
            using var scope = NewDisposeScope();
            if (cache is null)
            {
                cache = theirs;
                (next, other.next) = (other.next, null);
            }
            else
            {
                var tokens = cat([next!, other.next!]);
                cache.Join(theirs);
                Replace(tokens);
            }
            other.cache = null;
        }
        groups.AddRange(other.groups);
        other.groups.Clear();
    }

    /// <summary>Takes a caption out of the batch before it is done (its client went away).</summary>
    public void Remove(DecodingGroup group)
    {
        if (groups.Contains(group)) RemoveRows([group]);
    }

    /// <summary>Drops the given groups (members of the batch) and their rows.</summary>
    private void RemoveRows(IReadOnlyCollection<DecodingGroup> leaving)
    {
        var keep = new List<long>();
        int offset = 0;
        foreach (var g in groups)
        {
            if (!leaving.Contains(g)) keep.AddRange(Enumerable.Range(offset, g.Rows).Select(r => (long)r));
            offset += g.Rows;
        }
        groups.RemoveAll(leaving.Contains);
        foreach (var g in leaving) g.Leave();
        using var scope = NewDisposeScope();
        var nextTokens = next!;
        Keep(keep, offset);
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
        cache = null;
        Replace(null);
    }
}
