namespace CaptionService.Training.Evaluation;

/// <summary>N-gram counting shared by BLEU and CIDEr-D (their <c>precook</c>).</summary>
internal static class NGrams
{
    /// <summary>
    /// Counts of every n-gram of orders 1..<paramref name="maxOrder"/>; element k-1 holds the k-grams, each keyed by its
    /// words joined with single spaces (unambiguous: the words come from a whitespace split, so hold no space).
    /// </summary>
    public static Dictionary<string, int>[] Count(string[] words, int maxOrder)
    {
        var counts = new Dictionary<string, int>[maxOrder];
        for (int k = 1; k <= maxOrder; k++)
        {
            var order = counts[k - 1] = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + k <= words.Length; i++)
            {
                var ngram = k == 1 ? words[i] : string.Join(' ', words, i, k);
                order[ngram] = order.GetValueOrDefault(ngram) + 1;
            }
        }
        return counts;
    }
}
