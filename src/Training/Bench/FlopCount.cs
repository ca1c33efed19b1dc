using CaptionService.Model;

namespace CaptionService.Training.Bench;

/// <summary>
/// Matmul FLOPs (one multiply-add = 2 FLOPs) of the model's passes, counted from the config. Only
/// the matrix products are counted (linear layers, the patch projection, attention's two products);
/// norms, GELU, softmax and adds are the rest of the time.
/// </summary>
public static class FlopCount
{
    /// <summary>One image through the ViT (patch projection, every block).</summary>
    public static double EncoderPerImage(ModelConfig c)
    {
        double n = c.NumPatches + 1, w = c.EncoderWidth, m = c.EncoderMlpWidth;
        double patch = 2.0 * c.NumPatches * c.NumChannels * c.PatchSize * c.PatchSize * w;
        double linear = 2.0 * n * w * (3 * w + w + 2 * m);  // qkv, proj, fc1, fc2
        double attention = 2.0 * 2 * n * n * w;              // q·kᵀ and weights·v
        return patch + c.EncoderLayers * (linear + attention);
    }

    /// <summary>The cross-attention keys/values of one image (every block's c_attn, once per caption).</summary>
    public static double CrossKeysValuesPerImage(ModelConfig c) =>
        c.DecoderLayers * 2.0 * (c.NumPatches + 1) * c.EncoderWidth * 2 * c.DecoderWidth;

    /// <summary>One new token of one sequence with the cache, attending to <paramref name="cached"/>
    /// positions (its own included), plus the LM head.</summary>
    public static double DecodeStepPerToken(ModelConfig c, double cached)
    {
        double w = c.DecoderWidth, m = c.DecoderMlpWidth, s = c.NumPatches + 1;
        double linear = 2.0 * w * (3 * w + w + w + w + 2 * m); // c_attn, c_proj, q_attn, cross c_proj, c_fc, c_proj
        double attention = 2.0 * 2 * (cached + s) * w;
        return c.DecoderLayers * (linear + attention) + 2.0 * w * c.VocabSize;
    }

    /// <summary>Ours, one caption of <paramref name="tokens"/> tokens: encoder and cross keys/values once, then cached steps.</summary>
    public static double CachedCaption(ModelConfig c, int tokens) =>
        EncoderPerImage(c) + CrossKeysValuesPerImage(c) + Enumerable.Range(1, tokens).Sum(t => DecodeStepPerToken(c, t));

    /// <summary>The seed's way, one caption: for every token the whole ViT, every cross key/value and
    /// the whole prefix through the decoder (all T positions, the LM head at every position, as
    /// a full forward computes it).</summary>
    public static double SeedCaption(ModelConfig c, int tokens)
    {
        double total = 0;
        for (int t = 1; t <= tokens; t++)
        {
            double prefix = 0;
            for (int p = 1; p <= t; p++) prefix += DecodeStepPerToken(c, p);
            total += EncoderPerImage(c) + CrossKeysValuesPerImage(c) + prefix;
        }
        return total;
    }

    /// <summary>Bytes one cached decode step must read at least: every decoder weight once (linear
    /// layers at <paramref name="linearBytes"/> per element, the tied LM head at
    /// <paramref name="headBytes"/>), every sequence's cross-attention keys/values over all image
    /// tokens, and its self-attention keys/values so far (<paramref name="cacheBytes"/> per element).</summary>
    public static double DecodeStepBytes(ModelConfig c, int batch, double cached, int linearBytes, int headBytes, int cacheBytes)
    {
        double w = c.DecoderWidth, m = c.DecoderMlpWidth, s = c.NumPatches + 1;
        double linear = c.DecoderLayers * (w * (3 * w + w + w + w + 2 * m));
        double head = (double)c.VocabSize * w;
        double kv = (double)batch * c.DecoderLayers * 2 * (s + cached) * w;
        return linear * linearBytes + head * headBytes + kv * cacheBytes;
    }
}
