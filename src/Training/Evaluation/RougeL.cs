namespace CaptionService.Training.Evaluation;

/// <summary>
/// ROUGE-L as coco-caption computes it (<c>rouge.py</c>).
/// </summary>
/// <remarks>
/// Per image: candidate and references are split on single spaces (Python's <c>split(" ")</c>, so an empty
/// caption is one empty token, of length 1); for each reference, precision = LCS / candidate length and recall =
/// LCS / reference length; P and R are the maxima over the references, taken separately (they may come from
/// different references); the score is ((1 + β²) P R) / (R + β² P) with β = 1.2, or 0 when P or R is 0.
/// The corpus score is the mean over images.
/// </remarks>
public static class RougeL
{
    /// <summary>The F-measure's β (recall weighted β² = 1.44 times precision).</summary>
    public const double Beta = 1.2;

    /// <summary>ROUGE-L of a tokenized corpus.</summary>
    public static MetricScore Score(IReadOnlyList<TokenizedItem> items)
    {
        TokenizedItem.Validate(items);
        var perImage = items.Select(item => Sentence(item.Hypothesis, item.References)).ToList();
        return new MetricScore(perImage.Average(), perImage);
    }

    /// <summary>ROUGE-L of one tokenized candidate against its tokenized references (<c>calc_score</c>).</summary>
    public static double Sentence(string candidate, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0) throw new ArgumentException("ROUGE-L needs at least one reference.", nameof(references));
        var c = candidate.Split(' ');
        double maxPrecision = 0, maxRecall = 0;
        foreach (var reference in references)
        {
            var r = reference.Split(' ');
            int lcs = LongestCommonSubsequence(r, c);
            maxPrecision = Math.Max(maxPrecision, lcs / (double)c.Length);
            maxRecall = Math.Max(maxRecall, lcs / (double)r.Length);
        }
        if (maxPrecision == 0 || maxRecall == 0) return 0.0;
        const double beta2 = Beta * Beta;
        return (1 + beta2) * maxPrecision * maxRecall / (maxRecall + beta2 * maxPrecision);
    }

    /// <summary>Length of the longest common subsequence of two token sequences (O(|a|·|b|) time, O(min) memory).</summary>
    public static int LongestCommonSubsequence(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        if (a.Count < b.Count) (a, b) = (b, a);
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                current[j] = string.Equals(a[i - 1], b[j - 1], StringComparison.Ordinal)
                    ? previous[j - 1] + 1
                    : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}
