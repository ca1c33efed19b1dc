using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>One generated caption: its tokens (no start or end token), the sum of its tokens'
/// log-probabilities (beam search: length-normalized), and whether it ended with the end token.</summary>
public sealed record GeneratedSequence(int[] Tokens, double Score, bool Finished);

/// <summary>
/// Batched caption generation: a <see cref="DecodingBatch"/> that every image joins at once. The
/// image is encoded once, every block's cross-attention keys/values are computed once, and a
/// self-attention KV cache makes each new token cost one position. Greedy, sampling (temperature,
/// top-k, top-p) and beam search; no-repeat n-grams.
/// </summary>
public sealed class CaptionGenerator(Captioner model)
{
    private readonly ModelConfig config = model.Config;

    /// <param name="pixels">[B, 3, S, S] normalized images (moved to the model's device and dtype)</param>
    public IReadOnlyList<GeneratedSequence> Generate(Tensor pixels, DecodingOptions options)
    {
        var groups = Enumerable.Range(0, (int)pixels.shape[0]).Select(_ => DecodingGroup.For(config, options)).ToList();
        if (groups.Count == 0) return [];
        try
        {
            model.eval();
            using var batch = new DecodingBatch(model, groups[0].MaxNewTokens);
            batch.Admit(pixels, groups);
            while (!batch.IsEmpty) batch.Step();
            if (groups.FirstOrDefault(g => g.Error is not null) is { } failed)
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failed.Error!);
            return groups.Select(g => g.Result).ToList();
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
        }
    }

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
