using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>Multi-head attention shape helpers shared by the ViT and GPT-2 attention layers.</summary>
internal static class Heads
{
    /// <summary>[B, T, H*D] -> [B, H, T, D]</summary>
    public static Tensor Split(Tensor x, int heads)
    {
        var (b, t, c) = (x.shape[0], x.shape[1], x.shape[2]);
        return x.view(b, t, heads, c / heads).transpose(1, 2);
    }

    /// <summary>[B, H, T, D] -> [B, T, H*D]</summary>
    public static Tensor Merge(Tensor x)
    {
        var (b, h, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        return x.transpose(1, 2).reshape(b, t, h * d);
    }
}
