using System.Text;

namespace CaptionService.Training.Data;

/// <summary>How to split a dataset that has no splits of its own: shares of the images, and the hash's seed.</summary>
public sealed record SplitOptions(double ValFraction = 0.05, double TestFraction = 0.05, int Seed = 0);

/// <summary>The images a training run uses, by split, and how they were chosen.</summary>
/// <param name="Test">Held out: never trained on (with a separate validation file, what train would have left out anyway).</param>
/// <param name="OwnSplits">True when the training file has splits of its own (so <see cref="SplitOptions"/> played no part).</param>
public sealed record SplitPlan(IReadOnlyList<CaptionedImage> Train, IReadOnlyList<CaptionedImage> Val, IReadOnlyList<CaptionedImage> Test,
    bool OwnSplits);

/// <summary>
/// The one split function: train / val / test by image, never by caption (the seed split by caption, so
/// one image's captions landed in both train and val). <c>train</c>, <c>evaluate</c> and every other command
/// choose images through it.
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
        bool ownSplits = HasOwnSplits(data);
        var images = data.Images.Where(i => (ownSplits ? FileSplit(i.Split) : HashSplit(i.ImageId, options)) == split).ToList();
        return data with { Images = images };
    }

    /// <summary>
    /// The images a training run uses. The training file's own splits when it has them; else its hash split
    /// (<see cref="Select"/>), whose test share is always left out of training. With a separate validation file
    /// <paramref name="valData"/>, validation is that file's own "val" split, or the whole file when it has no
    /// splits; the training file then gives all its images but the test share to training (its own "train"
    /// split when it has splits).
    /// </summary>
    public static SplitPlan Plan(CaptionDataset data, CaptionDataset? valData, SplitOptions options)
    {
        bool own = HasOwnSplits(data);
        var test = Select(data, "test", options).Images;
        if (valData is null)
            return new SplitPlan(Select(data, "train", options).Images, Select(data, "val", options).Images, test, own);
        var val = HasOwnSplits(valData) ? Select(valData, "val", options).Images : valData.Images;
        var train = own
            ? Select(data, "train", options).Images
            : data.Images.Where(i => HashSplit(i.ImageId, options) != "test").ToList();
        return new SplitPlan(train, val, test, own);
    }

    /// <summary>Any image with a split of the file's own.</summary>
    public static bool HasOwnSplits(CaptionDataset data) => data.Images.Any(i => i.Split is not null);

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
