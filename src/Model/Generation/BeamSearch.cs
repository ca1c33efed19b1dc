using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// Beam search as in HF transformers (early_stopping = false): K beams per image, 2K candidates
/// per step, a candidate ending in the end token becomes a finished hypothesis scored
/// sum(log p) / length^length_penalty (length = caption tokens, plus one for the end token), and
/// an image is done once it has K hypotheses and no running beam can beat the worst of them.
/// </summary>
internal static class BeamSearch
{
    private sealed class Hypotheses(int capacity, double lengthPenalty)
    {
        public readonly List<(int[] Tokens, double Score, bool Finished)> Items = [];

        public double Normalize(double sumLogProbs, int length) => sumLogProbs / Math.Pow(Math.Max(length, 1), lengthPenalty);

        public void Add(int[] tokens, double sumLogProbs, bool finished)
        {
            Items.Add((tokens, Normalize(sumLogProbs, tokens.Length + (finished ? 1 : 0)), finished));
            if (Items.Count > capacity) Items.Remove(Items.MinBy(h => h.Score));
        }

        public bool IsDone(double bestRunningSum, int length) =>
            Items.Count >= capacity && Items.Min(h => h.Score) >= Normalize(bestRunningSum, length);
    }

    public static List<GeneratedSequence> Run(Captioner model, Tensor[] states, DecodingOptions o, int maxNew)
    {
        var config = model.Config;
        int batch = (int)states[0].shape[0], k = o.NumBeams;
        var device = model.Device;

        // Every image's states repeated for its K beams: rows b*K .. b*K+K-1 belong to image b.
        using var cache = model.StartDecoding(states.Select(s => s.repeat_interleave(k, dim: 0)).ToArray(), maxNew);
        var histories = Enumerable.Range(0, batch * k).Select(_ => new List<int>()).ToList();
        // Only the first beam of each image starts alive, so the K beams don't begin as copies.
        var beamScores = Enumerable.Range(0, batch * k).Select(r => r % k == 0 ? 0.0 : double.NegativeInfinity).ToArray();
        var hyps = Enumerable.Range(0, batch).Select(_ => new Hypotheses(k, o.LengthPenalty)).ToArray();
        var done = new bool[batch];
        var next = full(batch * k, (long)config.BosTokenId, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();

        for (int step = 0; step < maxNew && done.Contains(false); step++)
        {
            using var stepScope = NewDisposeScope();
            var logits = model.Step(next, cache).to(ScalarType.Float32);                        // [B*K, V]
            if (!o.StopAtEos) LogitsProcessing.BanToken(logits, config.EosTokenId);
            LogitsProcessing.BanRepeatedNgrams(logits,
                histories.Select(h => h.Prepend(config.BosTokenId).ToList()).ToList(), o.NoRepeatNgramSize);
            var vocab = logits.shape[1];
            var total = logits.log_softmax(-1).Plus(tensor(beamScores, device: device).to(ScalarType.Float32).unsqueeze(1));
            var (topScores, topIndices) = total.view(batch, k * vocab).topk(2 * k, dim: -1);      // [B, 2K]
            var candScores = topScores.cpu().data<float>().ToArray();
            var candIndices = topIndices.cpu().data<long>().ToArray();

            var rows = new long[batch * k];
            var tokens = new long[batch * k];
            var scores = new double[batch * k];
            for (int b = 0; b < batch; b++)
            {
                int filled = 0;
                for (int j = 0; j < 2 * k && filled < k && !done[b]; j++)
                {
                    double score = candScores[b * 2 * k + j];
                    if (double.IsNegativeInfinity(score)) break;
                    int beam = (int)(candIndices[b * 2 * k + j] / vocab), token = (int)(candIndices[b * 2 * k + j] % vocab);
                    int row = b * k + beam;
                    if (o.StopAtEos && token == config.EosTokenId)
                    {
                        if (j < k) hyps[b].Add(histories[row].ToArray(), score, finished: true);
                        continue;
                    }
                    (rows[b * k + filled], tokens[b * k + filled], scores[b * k + filled]) = (row, token, score);
                    filled++;
                }
                // Fewer than K live candidates left: nothing more to find.
                if (!done[b]) done[b] = filled < k || hyps[b].IsDone(scores[b * k], step + 1);
                if (done[b]) // done images keep their rows (dead) so the batch stays rectangular
                    for (int f = 0; f < k; f++) (rows[b * k + f], tokens[b * k + f], scores[b * k + f]) = (b * k + f, config.EosTokenId, double.NegativeInfinity);
            }

            cache.Select(tensor(rows, device: device));
            histories = rows.Select((row, i) => new List<int>(histories[(int)row]) { (int)tokens[i] }).ToList();
            beamScores = scores;
            next.Dispose();
            next = tensor(tokens, device: device).DetachFromDisposeScope();
        }
        next.Dispose();

        // Images that ran out of tokens: their live beams join the hypotheses unfinished.
        for (int b = 0; b < batch; b++)
            for (int r = b * k; r < b * k + k; r++)
                if (!double.IsNegativeInfinity(beamScores[r]) && !done[b])
                    hyps[b].Add(histories[r].ToArray(), beamScores[r], finished: false);

        return hyps.Select(h =>
        {
            if (h.Items.Count == 0) return new GeneratedSequence([], double.NegativeInfinity, false);
            var best = h.Items.MaxBy(x => x.Score);
            return new GeneratedSequence(best.Tokens, best.Score, best.Finished);
        }).ToList();
    }
}
