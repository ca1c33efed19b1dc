namespace CaptionService.Training.Evaluation;

/// <summary>
/// BLEU-1..4 as coco-caption computes it (<c>bleu_scorer.py</c>, <c>compute_score(option="closest")</c>).
/// </summary>
/// <remarks>
/// <para>Per image: words are whitespace-split; for each order k the hypothesis' k-gram counts are clipped by the
/// largest count of that k-gram in any one reference ("correct"), and "guess" is the number of hypothesis k-grams,
/// max(0, length - k + 1). The image's reference length is the reference length closest to the hypothesis length,
/// the shorter one on a tie.</para>
/// <para>Corpus: correct, guess, hypothesis length and reference length are summed over the images, then
/// BLEU-n = (∏_{k=1..n} (correct_k + tiny) / (guess_k + small))^(1/n), times the brevity penalty
/// exp(1 - 1/ratio) when ratio = (hyp_len + tiny) / (ref_len + small) &lt; 1; tiny = 1e-15, small = 1e-9, in the same
/// places as the reference code (so an order with no correct n-gram gives a tiny positive score, not 0).</para>
/// <para>Per image: the same formula applied to that image alone (sentence BLEU with "closest" reference length).
/// This is not coco-caption's per-image list, which holds only the k-gram precision to the power 1/k, with no
/// brevity penalty, each value appended twice, so that its <c>imgToEval</c> entries are misaligned.</para>
/// </remarks>
public static class Bleu
{
    /// <summary>Highest n-gram order scored (BLEU-1..4).</summary>
    public const int MaxOrder = 4;

    /// <summary>Added to every numerator ("so that if guess is 0 still return 0").</summary>
    public const double Tiny = 1e-15;

    /// <summary>Added to every denominator.</summary>
    public const double Small = 1e-9;

    /// <summary>BLEU-1..MaxOrder of a tokenized corpus.</summary>
    public static BleuScore Score(IReadOnlyList<TokenizedItem> items)
    {
        TokenizedItem.Validate(items);
        var total = new Statistics();
        var perImage = new List<IReadOnlyList<double>>(items.Count);
        foreach (var item in items)
        {
            var stats = Count(item.Hypothesis, item.References);
            total.Add(stats);
            perImage.Add(Combine(stats));
        }
        return new BleuScore(Combine(total), perImage, total.HypothesisLength, total.ReferenceLength);
    }

    /// <summary>The counts BLEU needs from one image (<c>cook_refs</c> + <c>cook_test</c>).</summary>
    internal static Statistics Count(string hypothesis, IReadOnlyList<string> references)
    {
        var refLengths = new List<int>(references.Count);
        var maxCounts = Enumerable.Range(0, MaxOrder).Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
        foreach (var reference in references)
        {
            var words = TokenizedItem.Words(reference);
            refLengths.Add(words.Length);
            var counts = NGrams.Count(words, MaxOrder);
            for (int k = 0; k < MaxOrder; k++)
                foreach (var (ngram, count) in counts[k])
                    maxCounts[k][ngram] = Math.Max(maxCounts[k].GetValueOrDefault(ngram), count);
        }

        var hyp = TokenizedItem.Words(hypothesis);
        var stats = new Statistics { HypothesisLength = hyp.Length, ReferenceLength = ClosestLength(refLengths, hyp.Length) };
        for (int k = 1; k <= MaxOrder; k++) stats.Guess[k - 1] = Math.Max(0, hyp.Length - k + 1);
        var hypCounts = NGrams.Count(hyp, MaxOrder);
        for (int k = 0; k < MaxOrder; k++)
            foreach (var (ngram, count) in hypCounts[k])
                stats.Correct[k] += Math.Min(maxCounts[k].GetValueOrDefault(ngram), count);
        return stats;
    }

    /// <summary>The reference length closest to <paramref name="hypothesisLength"/>; on a tie, the shorter
    /// (Python's <c>min((abs(l - testlen), l) for l in reflen)[1]</c>).</summary>
    internal static int ClosestLength(IReadOnlyList<int> referenceLengths, int hypothesisLength)
    {
        int best = referenceLengths[0];
        foreach (int length in referenceLengths)
        {
            int distance = Math.Abs(length - hypothesisLength), bestDistance = Math.Abs(best - hypothesisLength);
            if (distance < bestDistance || (distance == bestDistance && length < best)) best = length;
        }
        return best;
    }

    /// <summary>BLEU-1..MaxOrder from summed counts (the body of <c>compute_score</c>).</summary>
    internal static double[] Combine(Statistics s)
    {
        var bleus = new double[MaxOrder];
        double ratio = (s.HypothesisLength + Tiny) / (s.ReferenceLength + Small);
        for (int n = 1; n <= MaxOrder; n++)
        {
            double bleu = 1.0;
            for (int k = 0; k < n; k++)
                bleu *= (s.Correct[k] + Tiny) / (s.Guess[k] + Small);
            bleus[n - 1] = Math.Pow(bleu, 1.0 / n);
            if (ratio < 1) bleus[n - 1] *= Math.Exp(1 - 1 / ratio);
        }
        return bleus;
    }

    /// <summary>Counts of one image or, summed, of a corpus.</summary>
    internal sealed class Statistics
    {
        public long HypothesisLength { get; set; }
        public long ReferenceLength { get; set; }
        public long[] Guess { get; } = new long[MaxOrder];
        public long[] Correct { get; } = new long[MaxOrder];

        public void Add(Statistics other)
        {
            HypothesisLength += other.HypothesisLength;
            ReferenceLength += other.ReferenceLength;
            for (int k = 0; k < MaxOrder; k++)
            {
                Guess[k] += other.Guess[k];
                Correct[k] += other.Correct[k];
            }
        }
    }
}

/// <summary>BLEU of a corpus.</summary>
/// <param name="Corpus">BLEU-1..4 (index 0 is BLEU-1).</param>
/// <param name="PerImage">Each image's BLEU-1..4, computed on that image alone, in corpus order.</param>
/// <param name="HypothesisLength">Total hypothesis words.</param>
/// <param name="ReferenceLength">Total effective ("closest") reference words.</param>
public sealed record BleuScore(IReadOnlyList<double> Corpus, IReadOnlyList<IReadOnlyList<double>> PerImage,
    long HypothesisLength, long ReferenceLength)
{
    /// <summary>Hypothesis length over effective reference length (below 1: the brevity penalty applies).</summary>
    public double LengthRatio => (HypothesisLength + Bleu.Tiny) / (ReferenceLength + Bleu.Small);
}
