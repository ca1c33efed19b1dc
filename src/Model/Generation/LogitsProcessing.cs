using static TorchSharp.torch;

namespace CaptionService.Model.Generation;

/// <summary>The per-step rules that reshape next-token logits before a token is chosen.</summary>
internal static class LogitsProcessing
{
    /// <summary>Bans, per row, every token that would complete an n-gram already in that row's
    /// history (<paramref name="histories"/>: generated tokens, start token included).</summary>
    public static void BanRepeatedNgrams(Tensor logits, IReadOnlyList<List<int>> histories, int n)
    {
        if (n <= 0) return;
        var rows = new List<long>();
        var tokens = new List<long>();
        for (int row = 0; row < histories.Count; row++)
        {
            var h = histories[row];
            if (h.Count < n) continue;
            // The last n-1 tokens, and every earlier place where they occurred.
            int prefixStart = h.Count - (n - 1);
            for (int start = 0; start + n <= h.Count; start++)
            {
                bool same = true;
                for (int j = 0; j < n - 1 && same; j++) same = h[start + j] == h[prefixStart + j];
                if (same) { rows.Add(row); tokens.Add(h[start + n - 1]); }
            }
        }
        if (rows.Count == 0) return;
        using var r = tensor(rows.ToArray(), device: logits.device);
        using var t = tensor(tokens.ToArray(), device: logits.device);
        logits.IndexFillInPlace(double.NegativeInfinity, TensorIndex.Tensor(r), TensorIndex.Tensor(t));
    }

    /// <summary>Never choose the end token (fixed-length generation for benchmarks).</summary>
    public static void BanToken(Tensor logits, int token) =>
        logits[TensorIndex.Colon, TensorIndex.Single(token)].FillInPlace(double.NegativeInfinity);

    /// <summary>Temperature, then top-k, then top-p (nucleus), as in HF transformers' warpers.</summary>
    public static Tensor Warp(Tensor logits, DecodingOptions o)
    {
        if (o.Temperature != 1.0) logits = logits.DividedBy(o.Temperature);
        if (o.TopK > 0 && o.TopK < logits.shape[^1])
        {
            var kth = logits.topk(o.TopK, dim: -1).values[TensorIndex.Colon, TensorIndex.Slice(-1)];  // [B, 1]
            logits = logits.MaskedFill(logits.lt(kth), double.NegativeInfinity);
        }
        if (o.TopP < 1.0)
        {
            var (sorted, order) = logits.sort(dim: -1, descending: true);
            var probs = sorted.softmax(-1);
            // Drop a token when the tokens before it already reach top_p. The first always stays, also
            // when top_p rounds to 0 in float32 (1e-300 would otherwise drop every token).
            var drop = probs.cumsum(-1).sub(probs).AtLeastMask(o.TopP);
            drop.narrow(-1, 0, 1).FillInPlace(0);
            var dropInPlace = zeros_like(drop).scatter(-1, order, drop);
            logits = logits.MaskedFill(dropInPlace, double.NegativeInfinity);
        }
        return logits;
    }
}
