using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// One caption being decoded inside a <see cref="DecodingBatch"/>: its rows of the batch (one for
/// greedy and sampling, K for beam search), its history, and the rule that picks its next tokens.
/// Each group sees only its own rows, so what it produces does not depend on what shares the batch.
/// </summary>
public abstract class DecodingGroup : IDisposable
{
    protected DecodingGroup(ModelConfig config, DecodingOptions options)
    {
        var errors = options.Validate().ToList();
        if (errors.Count > 0) throw new DecodingOptionsException(errors);
        Config = config;
        Options = options;
        MaxNewTokens = Math.Min(options.MaxNewTokens, config.MaxPositions - 1);
    }

    /// <summary>Greedy or sampling: one row; beam search: <see cref="DecodingOptions.NumBeams"/> rows.</summary>
    public static DecodingGroup For(ModelConfig config, DecodingOptions options) =>
        options.Strategy == DecodingStrategy.Beam ? new BeamGroup(config, options) : new SingleSequence(config, options);

    protected ModelConfig Config { get; }
    public DecodingOptions Options { get; }

    /// <summary>Most tokens this caption may take (its options' max, capped by the model's positions).</summary>
    public int MaxNewTokens { get; }

    /// <summary>Rows a caption with these options takes when it joins a batch: num_beams for beam search, else 1.</summary>
    public static int RowsFor(DecodingOptions options) => options.Strategy == DecodingStrategy.Beam ? options.NumBeams : 1;

    /// <summary>Rows it takes when it joins the batch.</summary>
    public int InitialRows => RowsFor(Options);

    /// <summary>Rows it holds in the batch now (0 once done).</summary>
    public int Rows { get; protected set; }

    /// <summary>Steps taken so far (= tokens generated per row).</summary>
    public int Steps { get; private set; }

    /// <summary>True once the caption has left the batch: finished, or failed (<see cref="Error"/>).</summary>
    public bool IsDone { get; protected set; }

    /// <summary>Why the caption failed, once it has; null while it runs and once it succeeded.</summary>
    public Exception? Error { get; private set; }

    /// <summary>The caption, once <see cref="IsDone"/> without an <see cref="Error"/>.</summary>
    public abstract GeneratedSequence Result { get; }

    internal void Join() => Rows = InitialRows;

    /// <summary>Ends the caption with <paramref name="error"/> instead of a result; the batch then drops its rows.</summary>
    internal void Fail(Exception error)
    {
        Error ??= error;
        IsDone = true;
    }

    /// <summary>Its rows have left the batch.</summary>
    internal void Leave() => Rows = 0;

    /// <summary>One step for this group's rows.</summary>
    /// <param name="logits">[Rows, V] fp32 next-token logits of its rows, a view it may change in place</param>
    /// <param name="shared">work done once for the whole batch</param>
    /// <returns>For the next step: which of its rows continue (local indices, in order, repeats
    /// allowed) and the token each feeds.</returns>
    internal (long[] Rows, long[] Tokens) Advance(Tensor logits, SharedStep shared)
    {
        Steps++;
        var next = Choose(logits, shared);
        if (!IsDone && Steps >= MaxNewTokens) Finish();
        if (IsDone) next = ([], []);
        Rows = next.Rows.Length;
        return next;
    }

    /// <summary>Processes the logits (bans) before the batch-wide log-softmax and arg-max.</summary>
    internal virtual void Process(Tensor logits)
    {
        if (!Options.StopAtEos) LogitsProcessing.BanToken(logits, Config.EosTokenId);
        if (Options.NoRepeatNgramSize > 0) LogitsProcessing.BanRepeatedNgrams(logits, Histories(), Options.NoRepeatNgramSize);
    }

    /// <summary>Each row's tokens so far, start token included (for the n-gram ban).</summary>
    private protected abstract IReadOnlyList<List<int>> Histories();

    private protected abstract (long[] Rows, long[] Tokens) Choose(Tensor logits, SharedStep shared);

    /// <summary>The token budget ran out: settle the result from what is running.</summary>
    private protected abstract void Finish();

    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>What a batch step computes once for all rows, read by each group for its own rows.</summary>
/// <param name="Logits">[R, V] float32, the whole batch's (processed by each group)</param>
/// <param name="LogProbs">[R, V] their log-softmax when the step made it for every row, else null: each group that
/// reads them (beams, sampling) makes its own rows'</param>
/// <param name="Offset">the first row of the group being advanced</param>
internal sealed record SharedStep(Tensor Logits, Tensor? LogProbs, long[] ArgMax, float[] ArgMaxLogProb, int Offset)
{
    /// <summary>[Rows, V] log-probabilities of the group's rows.</summary>
    public Tensor LogProbsOf(int rows) => LogProbs?.narrow(0, Offset, rows) ?? Logits.narrow(0, Offset, rows).log_softmax(-1);
}

/// <summary>Greedy decoding or sampling (temperature, top-k, top-p) of one caption: one row.</summary>
internal sealed class SingleSequence : DecodingGroup
{
    private readonly List<int> history;
    private readonly Generator? rng;
    private double score;
    private bool finished;

    public SingleSequence(ModelConfig config, DecodingOptions options) : base(config, options)
    {
        history = [config.BosTokenId];
        // Its own generator: a seeded caption does not depend on its batch.
        if (options.Strategy == DecodingStrategy.Sample)
            rng = new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()));
    }

    public override GeneratedSequence Result => new([.. history.Skip(1)], score, finished);

    private protected override IReadOnlyList<List<int>> Histories() => [history];

    private protected override (long[] Rows, long[] Tokens) Choose(Tensor logits, SharedStep shared)
    {
        long token;
        if (rng is null)
        {
            token = shared.ArgMax[shared.Offset];
            score += shared.ArgMaxLogProb[shared.Offset];
        }
        else
        {
            using var scope = NewDisposeScope();
            var probs = LogitsProcessing.Warp(logits, Options).softmax(-1);               // [1, V]
            token = probs.cpu().multinomial(1, generator: rng).item<long>();
            score += shared.LogProbsOf(1)[0, token].item<float>();
        }

        if (Options.StopAtEos && token == Config.EosTokenId)
        {
            finished = true;
            IsDone = true;
            return ([], []);
        }
        history.Add((int)token);
        return ([0], [token]);
    }

    private protected override void Finish() => IsDone = true;

    public override void Dispose()
    {
        rng?.Dispose();
        base.Dispose();
    }
}
