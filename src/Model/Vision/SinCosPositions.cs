using static TorchSharp.torch;

namespace CaptionService.Model.Vision;

/// <summary>
/// Fixed 2-D sine-cosine position embeddings (MAE's <c>get_2d_sincos_pos_embed</c>, "Better plain ViT baselines"):
/// the first half of the channels encodes the patch's row, the second half its column, each as sines and
/// cosines of the index at geometrically spaced frequencies. The starting value of a ViT's learned position
/// embedding: a model trained from random weights knows where each patch is from the first step.
/// </summary>
public static class SinCosPositions
{
    /// <returns>[1, 1 + grid * grid, width]: a zero row for the class token, then the patches row by row.</returns>
    public static Tensor Make(int grid, int width)
    {
        if (width % 4 != 0) throw new ArgumentException($"sin-cos positions need a width divisible by 4 (got {width})", nameof(width));
        int quarter = width / 4;
        var table = new float[(1 + grid * grid) * width];
        for (int row = 0; row < grid; row++)
            for (int col = 0; col < grid; col++)
            {
                int at = (1 + row * grid + col) * width;
                for (int i = 0; i < quarter; i++)
                {
                    double omega = 1 / Math.Pow(10000, i / (double)quarter);
                    table[at + i] = (float)Math.Sin(row * omega);
                    table[at + quarter + i] = (float)Math.Cos(row * omega);
                    table[at + 2 * quarter + i] = (float)Math.Sin(col * omega);
                    table[at + 3 * quarter + i] = (float)Math.Cos(col * omega);
                }
            }
        return tensor(table, [1, 1 + grid * grid, width]);
    }
}
