using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>
/// Beam search for one caption, as in HF transformers (early_stopping = false): K beams, 2K
/// candidates per step, a candidate ending in the end token becomes a finished hypothesis scored
/// sum(log p) / length^length_penalty (length = caption tokens, plus one for the end token), and
/// the search is done once it has K hypotheses and no running beam can beat the worst of them.
/// </summary>
internal sealed class BeamGroup : DecodingGroup
{
    private readonly int k;
    private readonly List<(int[] Tokens, double Score, bool Finished)> hypotheses = [];
    private List<List<int>> histories;   // per beam: caption tokens so far (no start token)
    private double[] beamScores;         // per beam: sum of log-probabilities

    public BeamGroup(ModelConfig config, DecodingOptions options) : base(config, options)
    {
        k = options.NumBeams;
        histories = Enumerable.Range(0, k).Select(_ => new List<int>()).ToList();
        // Only the first beam starts alive, so the K beams don't begin as copies.
        beamScores = Enumerable.Range(0, k).Select(r => r == 0 ? 0.0 : double.NegativeInfinity).ToArray();
    }

    public override GeneratedSequence Result
    {
        get
        {
            if (hypotheses.Count == 0) return new GeneratedSequence([], double.NegativeInfinity, false);
            var best = hypotheses.MaxBy(h => h.Score);
            return new GeneratedSequence(best.Tokens, best.Score, best.Finished);
        }
    }

    private protected override IReadOnlyList<List<int>> Histories() =>
        histories.Select(h => h.Prepend(Config.BosTokenId).ToList()).ToList();

    private protected override (long[] Rows, long[] Tokens) Choose(Tensor logits, SharedStep shared)
    {
        float[] candScores;
        long[] candIndices;
        long vocab = logits.shape[1];
        using (var scope = NewDisposeScope())
        {
            var scores = tensor(beamScores, device: logits.device).to(ScalarType.Float32).unsqueeze(1);
            var total = shared.LogProbsOf(k).Plus(scores);                                      // [K, V]
            var (top, indices) = total.view(k * vocab).topk(2 * k);                              // [2K]
            candScores = top.cpu().data<float>().ToArray();
            candIndices = indices.cpu().data<long>().ToArray();
        }

        var rows = new List<long>(k);
        var tokens = new List<long>(k);
        var nextScores = new List<double>(k);
        for (int j = 0; j < 2 * k && rows.Count < k; j++)
        {
            double score = candScores[j];
            if (double.IsNegativeInfinity(score)) break;
            int beam = (int)(candIndices[j] / vocab), token = (int)(candIndices[j] % vocab);
            if (Options.StopAtEos && token == Config.EosTokenId)
            {
                if (j < k) Add(histories[beam].ToArray(), score, finished: true);
                continue;
            }
            rows.Add(beam);
            tokens.Add(token);
            nextScores.Add(score);
        }

        // Fewer than K live candidates left: nothing more to find.
        IsDone = rows.Count < k || IsSettled(nextScores[0], Steps);
        histories = rows.Select((row, i) => new List<int>(histories[(int)row]) { (int)tokens[i] }).ToList();
        beamScores = [.. nextScores];
        return ([.. rows], [.. tokens]);
    }

    /// <summary>Out of tokens: the live beams join the hypotheses unfinished.</summary>
    private protected override void Finish()
    {
        for (int r = 0; r < histories.Count; r++)
            Add(histories[r].ToArray(), beamScores[r], finished: false);
        IsDone = true;
    }

    private double Normalize(double sumLogProbs, int length) => sumLogProbs / Math.Pow(Math.Max(length, 1), Options.LengthPenalty);

    private void Add(int[] tokens, double sumLogProbs, bool finished)
    {
        hypotheses.Add((tokens, Normalize(sumLogProbs, tokens.Length + (finished ? 1 : 0)), finished));
        if (hypotheses.Count > k) hypotheses.Remove(hypotheses.MinBy(h => h.Score));
    }

    private bool IsSettled(double bestRunningSum, int length) =>
        hypotheses.Count >= k && hypotheses.Min(h => h.Score) >= Normalize(bestRunningSum, length);
}
