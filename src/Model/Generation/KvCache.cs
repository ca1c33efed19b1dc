using CaptionService.Model.Text;
using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// Decoding state of a batch of sequences: every block's self-attention keys/values so far
/// (preallocated to <see cref="Capacity"/> positions) and its cross-attention keys/values of the
/// image (computed once). Sequences may have different lengths; shorter ones are masked.
/// Owns its tensors: they live outside any dispose scope until <see cref="Dispose"/>.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] keys, values;      // per block: [B, H, Capacity, D]
    private long[] lengths;                      // positions cached per sequence
    private bool disposed;

    /// <summary>Per block: [B, H, S, D].</summary>
    public Tensor[] CrossKeys { get; }
    public Tensor[] CrossValues { get; }

    /// <summary>[B] int64: the position the next token of each sequence takes.</summary>
    public Tensor Positions { get; private set; }

    /// <summary>[B, 1, 1, L] bool (true = attend) for the step being run, or null when all sequences have the same length.</summary>
    public Tensor? Mask { get; private set; }

    public int Capacity { get; }
    public int BatchSize => lengths.Length;
    public IReadOnlyList<long> Lengths => lengths;

    public KvCache(TextDecoder decoder, IReadOnlyList<Tensor> encoderStates, int capacity, int heads)
    {
        if (capacity > decoder.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"a cache of {capacity} positions exceeds the model's max_positions ({decoder.MaxPositions})");
        Capacity = capacity;
        // Everything is made inside a scope of its own and detached only once all of it exists: a
        // failure part-way (out of memory) leaves nothing behind.
        using var scope = NewDisposeScope();
        var cross = decoder.CrossKeysValues(encoderStates);
        CrossKeys = cross.Select(kv => kv.Keys.contiguous()).ToArray();
        CrossValues = cross.Select(kv => kv.Values.contiguous()).ToArray();
        var (b, d) = (CrossKeys[0].shape[0], CrossKeys[0].shape[3]);
        var like = CrossKeys[0];
        // Zeros, not empty(): a masked position gets attention weight 0, and 0 x NaN (uninitialized
        // memory) would still poison the row (seen: a caption of token 0 repeated).
        keys = cross.Select(_ => zeros(b, heads, capacity, d, dtype: like.dtype, device: like.device)).ToArray();
        values = cross.Select(_ => zeros(b, heads, capacity, d, dtype: like.dtype, device: like.device)).ToArray();
        lengths = new long[b];
        Positions = zeros(b, dtype: ScalarType.Int64, device: like.device);
        foreach (var t in Owned()) t.DetachFromDisposeScope();
    }

    /// <summary>A cache made of tensors that are already its own (<see cref="SplitOff"/>).</summary>
    private KvCache(Tensor[] keys, Tensor[] values, Tensor[] crossKeys, Tensor[] crossValues, long[] lengths, int capacity)
    {
        (this.keys, this.values, CrossKeys, CrossValues, this.lengths, Capacity) = (keys, values, crossKeys, crossValues, lengths, capacity);
        Positions = tensor(lengths, device: keys[0].device).DetachFromDisposeScope();
        RebuildMask();
    }

    /// <summary>Writes one new key/value per sequence at its own position and returns the cached
    /// keys/values up to the longest sequence: [B, H, L, D] each.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long longest = lengths.Max();
        if (longest >= Capacity)
            throw new InvalidOperationException($"KV cache is full ({Capacity} positions)");
        if (Mask is null) // all sequences have the same length: a plain slice copy
        {
            keys[layer].narrow(2, longest, 1).copy_(k);
            values[layer].narrow(2, longest, 1).copy_(v);
        }
        else
        {
            var rows = arange(BatchSize, dtype: ScalarType.Int64, device: k.device);
            keys[layer].index_put_(k.squeeze(2), [TensorIndex.Tensor(rows), TensorIndex.Colon, TensorIndex.Tensor(Positions)]);
            values[layer].index_put_(v.squeeze(2), [TensorIndex.Tensor(rows), TensorIndex.Colon, TensorIndex.Tensor(Positions)]);
        }
        return (keys[layer].narrow(2, 0, longest + 1), values[layer].narrow(2, 0, longest + 1));
    }

    /// <summary>Called once per step after every block has appended.</summary>
    internal void Advance()
    {
        for (int i = 0; i < lengths.Length; i++) lengths[i]++;
        Positions.AddInPlace(1);
        RebuildMask();
    }

    /// <summary>Keeps the given rows, in the given order (beam search reordering, finished sequences leaving).</summary>
    /// <param name="rows">[B'] int64 row indices, on the cache's device</param>
    public void Select(Tensor rows)
    {
        for (int i = 0; i < keys.Length; i++)
        {
            Swap(ref keys[i], keys[i].index_select(0, rows));
            Swap(ref values[i], values[i].index_select(0, rows));
            Swap(ref CrossKeys[i], CrossKeys[i].index_select(0, rows));
            Swap(ref CrossValues[i], CrossValues[i].index_select(0, rows));
        }
        using (var host = rows.cpu())
            lengths = host.data<long>().ToArray().Select(r => lengths[r]).ToArray();
        var positions = Positions;
        Positions = positions.index_select(0, rows).DetachFromDisposeScope();
        positions.Dispose();
        RebuildMask();
    }

    /// <summary>Adds <paramref name="other"/>'s sequences after this cache's rows (continuous
    /// batching: newcomers join a running batch at their own position). <paramref name="other"/>
    /// is emptied into this one and disposed. All or nothing: when it throws (out of memory), this
    /// cache is as it was and <paramref name="other"/> is untouched.</summary>
    public void Join(KvCache other)
    {
        if (other.Capacity != Capacity || other.keys.Length != keys.Length)
            throw new ArgumentException($"cannot join a cache of {other.keys.Length} blocks x {other.Capacity} positions to one of {keys.Length} x {Capacity}");
        long rows = BatchSize;
        Tensor[][] own = [keys, values, CrossKeys, CrossValues], theirs = [other.keys, other.values, other.CrossKeys, other.CrossValues];
        int joined = 0;  // tensors joined so far, in the order below
        try
        {
            for (; joined < own.Length * keys.Length; joined++)
            {
                var (part, i) = (joined / keys.Length, joined % keys.Length);
                Swap(ref own[part][i], cat([own[part][i], theirs[part][i]], 0));
            }
            var positions = Positions;
            Positions = cat([positions, other.Positions], 0).DetachFromDisposeScope();
            positions.Dispose();
        }
        catch
        {
            // Back to this cache's own rows: the first rows of every joined tensor.
            for (int j = 0; j < joined; j++)
            {
                var (part, i) = (j / keys.Length, j % keys.Length);
                Swap(ref own[part][i], own[part][i].narrow(0, 0, rows));
            }
            throw;
        }
        lengths = [.. lengths, .. other.lengths];
        other.Dispose();
        RebuildMask();
    }

    /// <summary>Moves the rows from <paramref name="firstRow"/> on into a cache of their own (this one
    /// keeps the rows before it): a batch steps its two halves apart to find which rows make a step fail.</summary>
    internal KvCache SplitOff(int firstRow)
    {
        int rest = BatchSize - firstRow;
        if (firstRow < 1 || rest < 1) throw new ArgumentOutOfRangeException(nameof(firstRow), $"cannot split {BatchSize} rows at {firstRow}");
        Tensor[] Tail(Tensor[] parts) => parts.Select(t => t.narrow(0, firstRow, rest).clone().DetachFromDisposeScope()).ToArray();
        var other = new KvCache(Tail(keys), Tail(values), Tail(CrossKeys), Tail(CrossValues), lengths[firstRow..], Capacity);
        foreach (var parts in new[] { keys, values, CrossKeys, CrossValues })
            for (int i = 0; i < parts.Length; i++) Swap(ref parts[i], parts[i].narrow(0, 0, firstRow));
        Rewind(lengths[..firstRow]);
        return other;
    }

    /// <summary>Back to the given lengths (those before a step that failed part-way): the keys and
    /// values a failed step wrote past them are never read, and the retried step writes over them.</summary>
    internal void Rewind(long[] before)
    {
        lengths = before.ToArray();
        var positions = Positions;
        Positions = tensor(lengths, device: positions.device).DetachFromDisposeScope();
        positions.Dispose();
        RebuildMask();
    }

    private void RebuildMask()
    {
        Mask?.Dispose();
        Mask = null;
        if (lengths.Length == 0 || lengths.All(l => l == lengths[0])) return;
        // Key j of sequence b is visible at the next step iff j <= lengths[b] (its own new token included).
        using var scope = NewDisposeScope();
        long span = lengths.Max() + 1;
        var j = arange(span, dtype: ScalarType.Int64, device: Positions.device);
        Mask = (j.unsqueeze(0) <= Positions.unsqueeze(1)).view(lengths.Length, 1, 1, span).DetachFromDisposeScope();
    }

    private static void Swap(ref Tensor slot, Tensor replacement)
    {
        var old = slot;
        slot = replacement.DetachFromDisposeScope();
        old.Dispose();
    }

    private IEnumerable<Tensor> Owned() => keys.Concat(values).Concat(CrossKeys).Concat(CrossValues).Append(Positions);

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var t in Owned()) t.Dispose();
        Mask?.Dispose();
    }
}
