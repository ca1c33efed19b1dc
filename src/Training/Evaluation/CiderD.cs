namespace CaptionService.Training.Evaluation;

/// <summary>
/// CIDEr-D as coco-caption computes it (<c>cider_scorer.py</c>, reported there as "CIDEr").
/// </summary>
/// <remarks>
/// <para>Words are whitespace-split; n-grams of orders 1..4. The document frequency df(g) of an n-gram is the number of
/// images of the evaluated corpus with g in at least one REFERENCE (hypotheses do not count). With N the number of
/// images, an n-gram occurring tf times gets the weight tf · (log N − log max(1, df)); each order's weights form a
/// vector with its Euclidean norm.</para>
/// <para>For a hypothesis h and a reference r, order n contributes
/// Σ_g min(h_g, r_g) · r_g / (‖h‖ ‖r‖) (the hypothesis weight clipped by the reference weight; the division is skipped
/// when either norm is 0, leaving 0, as in current coco-caption, where early versions divided 0 by 0 into NaN), times
/// the length penalty exp(−δ² / (2σ²)) with σ = 6. As in the reference code, δ is the difference of the two captions' BIGRAM counts (its <c>if n == 1</c> tests the 0-based n-gram index), which
/// equals the difference of their word counts unless one of them is empty (0 bigrams, like a one-word caption).</para>
/// <para>An image's score is the mean over the 4 orders of the sum over its references, divided by the number of
/// references, times 10. The corpus score is the mean over images. With a single image log N = 0, so every score is 0.</para>
/// </remarks>
public static class CiderD
{
    /// <summary>Highest n-gram order.</summary>
    public const int MaxOrder = 4;

    /// <summary>Standard deviation of the Gaussian length penalty, in words.</summary>
    public const double Sigma = 6.0;

    /// <summary>CIDEr-D of a tokenized corpus.</summary>
    public static MetricScore Score(IReadOnlyList<TokenizedItem> items)
    {
        TokenizedItem.Validate(items);

        // Every distinct n-gram gets an integer id; a caption becomes, per order, its (id, count) pairs sorted by id.
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var hypotheses = new SparseCounts[items.Count][];
        var references = new SparseCounts[items.Count][][];
        for (int i = 0; i < items.Count; i++)
        {
            hypotheses[i] = Sparse(items[i].Hypothesis, ids);
            references[i] = items[i].References.Select(r => Sparse(r, ids)).ToArray();
        }

        // Document frequency over the references: each image counts once per n-gram.
        var documentFrequency = new int[ids.Count];
        var lastImage = new int[ids.Count];
        Array.Fill(lastImage, -1);
        for (int i = 0; i < items.Count; i++)
            foreach (var reference in references[i])
                foreach (var order in reference)
                    foreach (int id in order.Ids)
                        if (lastImage[id] != i)
                        {
                            lastImage[id] = i;
                            documentFrequency[id]++;
                        }

        // Weight of one occurrence: log N - log max(1, df).
        double logImages = Math.Log(items.Count);
        var idf = new double[ids.Count];
        for (int id = 0; id < idf.Length; id++) idf[id] = logImages - Math.Log(Math.Max(1.0, documentFrequency[id]));

        var perImage = new List<double>(items.Count);
        var sum = new double[MaxOrder];
        for (int i = 0; i < items.Count; i++)
        {
            var hyp = Vectorize(hypotheses[i], idf);
            Array.Clear(sum);
            foreach (var refCounts in references[i])
            {
                var reference = Vectorize(refCounts, idf);
                var similarity = Similarity(hyp, reference);
                for (int n = 0; n < MaxOrder; n++) sum[n] += similarity[n];
            }
            perImage.Add(sum.Average() / references[i].Length * 10.0);
        }
        return new MetricScore(perImage.Average(), perImage);
    }

    /// <summary>A caption's n-gram counts per order (<c>precook</c>), as id-sorted sparse arrays.</summary>
    private static SparseCounts[] Sparse(string caption, Dictionary<string, int> ids)
    {
        var counts = NGrams.Count(TokenizedItem.Words(caption), MaxOrder);
        var sparse = new SparseCounts[MaxOrder];
        for (int n = 0; n < MaxOrder; n++)
        {
            var pairs = new (int Id, int Count)[counts[n].Count];
            int k = 0;
            foreach (var (ngram, count) in counts[n])
            {
                if (!ids.TryGetValue(ngram, out int id)) ids[ngram] = id = ids.Count;
                pairs[k++] = (id, count);
            }
            Array.Sort(pairs);
            sparse[n] = new SparseCounts(pairs.Select(p => p.Id).ToArray(), pairs.Select(p => p.Count).ToArray());
        }
        return sparse;
    }

    /// <summary>tf-idf weights per order, their norms, and the length (bigram count) of a caption (<c>counts2vec</c>).</summary>
    private static Vector Vectorize(SparseCounts[] counts, double[] idf)
    {
        var weights = new double[MaxOrder][];
        var norms = new double[MaxOrder];
        for (int n = 0; n < MaxOrder; n++)
        {
            var (ids, termFrequencies) = counts[n];
            weights[n] = new double[ids.Length];
            double squares = 0;
            for (int k = 0; k < ids.Length; k++)
            {
                double w = termFrequencies[k] * idf[ids[k]];
                weights[n][k] = w;
                squares += w * w;
            }
            norms[n] = Math.Sqrt(squares);
        }
        int length = counts[1].Counts.Sum(); // bigrams, as the reference code counts "length"
        return new Vector(counts, weights, norms, length);
    }

    /// <summary>Clipped cosine similarity per order, times the length penalty (<c>sim</c>).</summary>
    private static double[] Similarity(Vector hyp, Vector reference)
    {
        double delta = hyp.Length - reference.Length;
        double penalty = Math.Exp(-(delta * delta) / (2 * Sigma * Sigma));
        var values = new double[MaxOrder];
        for (int n = 0; n < MaxOrder; n++)
        {
            // Σ over the hypothesis' n-grams of min(h, r) · r, r = 0 where the reference lacks the n-gram: a merge of
            // the two id-sorted lists.
            int[] hIds = hyp.Counts[n].Ids, rIds = reference.Counts[n].Ids;
            double[] h = hyp.Weights[n], r = reference.Weights[n];
            double value = 0;
            for (int a = 0, b = 0; a < hIds.Length && b < rIds.Length;)
            {
                if (hIds[a] < rIds[b]) a++;
                else if (hIds[a] > rIds[b]) b++;
                else
                {
                    value += Math.Min(h[a], r[b]) * r[b];
                    a++;
                    b++;
                }
            }
            if (hyp.Norms[n] != 0 && reference.Norms[n] != 0) value /= hyp.Norms[n] * reference.Norms[n];
            values[n] = value * penalty;
        }
        return values;
    }

    private sealed record SparseCounts(int[] Ids, int[] Counts);

    private sealed record Vector(SparseCounts[] Counts, double[][] Weights, double[] Norms, int Length);
}
