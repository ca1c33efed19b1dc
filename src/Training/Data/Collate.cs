using CaptionService.Model.Text;
using static TorchSharp.torch;

namespace CaptionService.Training.Data;

/// <summary>One training batch: images and teacher-forcing tokens, padded to its longest caption.</summary>
/// <param name="Pixels">[B, 3, S, S]</param>
/// <param name="Input">[B, T] int64: start token + caption, padded with the pad id</param>
/// <param name="Labels">[B, T] int64: caption + end token, -100 on padding (ignored by the loss)</param>
/// <param name="Tokens">Number of label positions that count (not padding).</param>
/// <param name="Positions">[Tokens] int64: their flat indices (b * T + t), so the LM head can skip the padding.</param>
/// <param name="ImageOfCaption">[B] int64: the image (row of <paramref name="Pixels"/>) of each caption, when an image
/// has several captions in the batch; null when caption i is of image i.</param>
public sealed record Batch(Tensor Pixels, Tensor Input, Tensor Labels, int Tokens, Tensor Positions, Tensor? ImageOfCaption = null) : IDisposable
{
    public void Dispose()
    {
        ImageOfCaption?.Dispose();
        Pixels.Dispose();
        Input.Dispose();
        Labels.Dispose();
        Positions.Dispose();
    }
}

/// <summary>The seed's collate: tokenize, then pad dynamically to the longest caption in the batch.</summary>
public static class Collate
{
    public const int IgnoreIndex = -100;

    /// <param name="images">CHW float images, all S x S</param>
    /// <param name="captions">caption i of image i</param>
    public static Batch Make(IReadOnlyList<float[]> images, IReadOnlyList<string> captions, CaptionTokenizer tokenizer, int imageSize, int maxLength) =>
        Make(images, captions.Select(c => (IReadOnlyList<string>)[c]).ToList(), tokenizer, imageSize, maxLength);

    /// <param name="images">CHW float images, all S x S</param>
    /// <param name="captions">the captions of image i (at least one each); the batch has every caption, in order</param>
    public static Batch Make(IReadOnlyList<float[]> images, IReadOnlyList<IReadOnlyList<string>> captions, CaptionTokenizer tokenizer, int imageSize, int maxLength)
    {
        if (captions.Count != images.Count || captions.Any(list => list.Count == 0))
            throw new ArgumentException($"{images.Count} images need at least one caption each (got caption lists for {captions.Count}, "
                + $"{captions.Count(list => list.Count == 0)} of them empty)", nameof(captions));
        var imageOf = captions.SelectMany((list, image) => list.Select(_ => (long)image)).ToArray();
        var pairs = captions.SelectMany(list => list).Select(c => tokenizer.ForTraining(c, maxLength)).ToList();
        int b = pairs.Count, t = pairs.Max(p => p.Input.Length);
        var input = new long[b * t];
        var labels = new long[b * t];
        var positions = new List<long>(b * t);
        for (int i = 0; i < b; i++)
        {
            var (x, y) = pairs[i];
            for (int j = 0; j < t; j++)
            {
                // Padding is found by length, never by token id: pad == end == 50256.
                bool real = j < x.Length;
                input[i * t + j] = real ? x[j] : tokenizer.PadId;
                labels[i * t + j] = real ? y[j] : IgnoreIndex;
                if (real) positions.Add(i * t + j);
            }
        }
        var pixels = new float[images.Count * 3 * imageSize * imageSize];
        for (int i = 0; i < images.Count; i++) images[i].CopyTo(pixels, i * images[i].Length);
        return new Batch(
            tensor(pixels, [images.Count, 3, imageSize, imageSize]),
            tensor(input, [b, t]),
            tensor(labels, [b, t]),
            positions.Count,
            tensor(positions.ToArray()),
            imageOf.Length == images.Count ? null : tensor(imageOf));   // one caption each: caption i is of image i
    }
}
