using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>One generated caption: its tokens (no start or end token), the sum of its tokens'
/// log-probabilities (beam search: length-normalized), and whether it ended with the end token.</summary>
public sealed record GeneratedSequence(int[] Tokens, double Score, bool Finished);

/// <summary>
/// Batched caption generation. The image is encoded once, every block's cross-attention
/// keys/values are computed once, and a self-attention KV cache makes each new token cost one
/// position. Greedy, sampling (temperature, top-k, top-p) and beam search; no-repeat n-grams.
/// </summary>
public sealed class CaptionGenerator(Captioner model)
{
    private readonly ModelConfig config = model.Config;

    /// <param name="pixels">[B, 3, S, S] normalized images (moved to the model's device and dtype)</param>
    public IReadOnlyList<GeneratedSequence> Generate(Tensor pixels, DecodingOptions options)
    {
        var errors = options.Validate().ToList();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
        int maxNew = Math.Min(options.MaxNewTokens, config.MaxPositions - 1);
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        model.eval();
        var states = model.Encode(pixels.to(model.DType, model.Device));
        return options.Strategy == DecodingStrategy.Beam
            ? BeamSearch.Run(model, states, options, maxNew)
            : Decode(states, options, maxNew);
    }

    /// <summary>Greedy or sampling: one token per sequence per step, until every sequence has
    /// produced the end token or <paramref name="maxNew"/> tokens. Finished sequences leave the
    /// batch (and the cache) at once.</summary>
    private List<GeneratedSequence> Decode(Tensor[] states, DecodingOptions o, int maxNew)
    {
        int batch = (int)states[0].shape[0];
        var histories = Enumerable.Range(0, batch).Select(_ => new List<int> { config.BosTokenId }).ToList();
        var scores = new double[batch];
        var finished = new bool[batch];
        // One generator per sequence, all seeded alike: a seeded caption does not depend on its batch.
        var rngs = o.Strategy == DecodingStrategy.Sample
            ? Enumerable.Range(0, batch).Select(_ => new Generator((ulong)(o.Seed ?? Random.Shared.NextInt64()), model.Device)).ToArray()
            : null;
        var active = Enumerable.Range(0, batch).ToList();   // cache row r holds sequence active[r]

        using var cache = model.StartDecoding(states, maxNew);
        var next = full(batch, (long)config.BosTokenId, dtype: ScalarType.Int64, device: model.Device).DetachFromDisposeScope();
        for (int step = 0; step < maxNew && active.Count > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var logits = model.Step(next, cache).to(ScalarType.Float32);          // [A, V]
            if (!o.StopAtEos) LogitsProcessing.BanToken(logits, config.EosTokenId);
            LogitsProcessing.BanRepeatedNgrams(logits, active.Select(i => histories[i]).ToList(), o.NoRepeatNgramSize);
            var chosen = rngs is null
                ? logits.argmax(-1)
                : Sample(LogitsProcessing.Warp(logits, o).softmax(-1), active.Select(i => rngs[i]).ToList());
            var logProbs = logits.log_softmax(-1).gather(-1, chosen.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
            var tokens = chosen.cpu().data<long>().ToArray();

            var keep = new List<long>();
            for (int r = 0; r < active.Count; r++)
            {
                int b = active[r];
                scores[b] += logProbs[r];
                if (o.StopAtEos && tokens[r] == config.EosTokenId) { finished[b] = true; continue; }
                histories[b].Add((int)tokens[r]);
                keep.Add(r);
            }
            var nextTokens = chosen;
            if (keep.Count < active.Count && keep.Count > 0)
            {
                var rows = tensor(keep.ToArray(), device: model.Device);
                cache.Select(rows);
                nextTokens = chosen.index_select(0, rows);
            }
            active = keep.Select(r => active[(int)r]).ToList();
            next.Dispose();
            next = nextTokens.DetachFromDisposeScope();
        }
        next.Dispose();
        foreach (var rng in rngs ?? []) rng.Dispose();
        return histories.Select((h, b) => new GeneratedSequence(h.Skip(1).ToArray(), scores[b], finished[b])).ToList();
    }

    /// <summary>One draw per row, each from its own generator: [A, V] probabilities -> [A] tokens.</summary>
    private static Tensor Sample(Tensor probs, IReadOnlyList<Generator> rngs) =>
        cat(rngs.Select((rng, r) => probs[r].multinomial(1, generator: rng)).ToArray());

    /// <summary>
    /// Greedy decoding the slow, obvious way: no cache, the whole prefix through the whole decoder
    /// for every new token (and, with <paramref name="reencodeEachStep"/>, the whole ViT too, as the
    /// seed did). The reference that the cached path must match, and the benchmark baseline.
    /// </summary>
    public IReadOnlyList<GeneratedSequence> GreedyByRecompute(Tensor pixels, int maxNewTokens, bool reencodeEachStep = false, bool stopAtEos = true)
    {
        using var mode = inference_mode();
        using var scope = NewDisposeScope();
        model.eval();
        pixels = pixels.to(model.DType, model.Device);
        int batch = (int)pixels.shape[0];
        var histories = Enumerable.Range(0, batch).Select(_ => new List<int> { config.BosTokenId }).ToList();
        var finished = new bool[batch];
        var scores = new double[batch];
        var states = model.Encode(pixels);
        int maxNew = Math.Min(maxNewTokens, config.MaxPositions - 1);
        for (int step = 0; step < maxNew && finished.Contains(false); step++)
        {
            using var stepScope = NewDisposeScope();
            if (reencodeEachStep) states = model.Encode(pixels);
            var tokens = tensor(histories.SelectMany(h => h.Select(t => (long)t)).ToArray(), device: model.Device).view(batch, -1);
            var logits = model.Logits(tokens, states)[TensorIndex.Colon, TensorIndex.Single(-1)].to(ScalarType.Float32);
            if (!stopAtEos) LogitsProcessing.BanToken(logits, config.EosTokenId);
            var logProbs = logits.log_softmax(-1);
            var chosen = logits.argmax(-1);
            var lp = logProbs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).cpu().data<float>().ToArray();
            var ids = chosen.cpu().data<long>().ToArray();
            for (int b = 0; b < batch; b++)
            {
                // Finished rows keep growing with end tokens so the batch stays rectangular.
                if (finished[b]) { histories[b].Add(config.EosTokenId); continue; }
                scores[b] += lp[b];
                if (stopAtEos && ids[b] == config.EosTokenId) { finished[b] = true; histories[b].Add(config.EosTokenId); }
                else histories[b].Add((int)ids[b]);
            }
        }
        return histories.Select((h, b) =>
        {
            var body = h.Skip(1);
            if (finished[b]) body = body.TakeWhile(t => t != config.EosTokenId);
            return new GeneratedSequence(body.ToArray(), scores[b], finished[b]);
        }).ToList();
    }
}
