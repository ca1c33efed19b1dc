using System.Text;

namespace CaptionService.Training.Data;

/// <summary>How to split a dataset that has no splits of its own.</summary>
public sealed record SplitOptions(double ValFraction = 0.05, double TestFraction = 0.05, int Seed = 0);

/// <summary>
/// Train / val / test by image, never by caption (the seed split by caption, so one image's captions
/// landed in both train and val).
/// </summary>
public static class DatasetSplits
{
    public static readonly IReadOnlyList<string> Names = ["train", "val", "test"];

    /// <summary>
    /// The images of <paramref name="split"/> ("train", "val" or "test"). A dataset with its own splits
    /// (any image with a Split) keeps them: "train" is train + "restval" (Karpathy's extra COCO training
    /// images), an image without a split is in none, and the options are not used. Otherwise each image
    /// goes to a split from a stable hash of (Seed, ImageId): the same in every run and process, and
    /// an image keeps its split when others are added or removed.
    /// </summary>
    public static CaptionDataset Select(CaptionDataset data, string split, SplitOptions options)
    {
        if (!Names.Contains(split))
            throw new ArgumentException($"unknown split '{split}' (one of {string.Join(", ", Names)})", nameof(split));
        if (options.ValFraction < 0 || options.TestFraction < 0 || options.ValFraction + options.TestFraction > 1)
            throw new ArgumentException($"split fractions must be >= 0 with val + test <= 1 (val {options.ValFraction}, test {options.TestFraction})", nameof(options));
        bool ownSplits = data.Images.Any(i => i.Split is not null);
        var images = data.Images.Where(i => (ownSplits ? FileSplit(i.Split) : HashSplit(i.ImageId, options)) == split).ToList();
        return data with { Images = images };
    }

    private static string? FileSplit(string? split) => split == "restval" ? "train" : split;

    /// <summary>The split an image gets from the hash: [0, val) val, [val, val + test) test, the rest train.</summary>
    public static string HashSplit(string imageId, SplitOptions options)
    {
        double u = UnitHash(options.Seed, imageId);
        return u < options.ValFraction ? "val" : u < options.ValFraction + options.TestFraction ? "test" : "train";
    }

    /// <summary>FNV-1a 64 over seed and UTF-8 id, then SplitMix64's finalizer, to a double in [0, 1).
    /// Not string.GetHashCode, which is randomized per process.</summary>
    private static double UnitHash(int seed, string id)
    {
        ulong h = 14695981039346656037UL;
        for (int shift = 0; shift < 32; shift += 8)
            h = (h ^ (byte)(seed >> shift)) * 1099511628211UL;
        foreach (byte b in Encoding.UTF8.GetBytes(id))
            h = (h ^ b) * 1099511628211UL;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        h ^= h >> 31;
        return (h >> 11) * (1.0 / (1UL << 53));
    }
}
