using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

public sealed class DatasetSplitsTests
{
    private static CaptionDataset Dataset(IEnumerable<(string Id, string? Split)> images) => new(
        "/data/x.jsonl", DatasetFormat.Jsonl,
        images.Select(i => new CaptionedImage(i.Id, $"/data/{i.Id}.jpg", ["a caption", "another caption"], i.Split)).ToList(),
        new DatasetReport(0, 0, []));

    private static readonly CaptionDataset Unsplit = Dataset(Enumerable.Range(0, 4000).Select(i => ($"{100000 + i * 7}", (string?)null)));

    [Fact]
    public void Splits_by_image_disjoint_complete_and_roughly_the_asked_fractions()
    {
        var options = new SplitOptions(ValFraction: 0.1, TestFraction: 0.05, Seed: 1);
        var parts = DatasetSplits.Names.ToDictionary(s => s, s => DatasetSplits.Select(Unsplit, s, options).Images.Select(i => i.ImageId).ToList());
        var all = parts.Values.SelectMany(p => p).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());   // no image in two splits
        Assert.Equal(Unsplit.Images.Count, all.Count);       // every image in one
        Assert.InRange(parts["val"].Count, 330, 470);        // 400 expected
        Assert.InRange(parts["test"].Count, 150, 250);       // 200 expected
        Assert.All(DatasetSplits.Select(Unsplit, "val", options).Images, i => Assert.Equal(2, i.Captions.Count));
    }

    [Fact]
    public void Splits_are_stable_across_calls_processes_and_dataset_changes()
    {
        var options = new SplitOptions(Seed: 0);
        var val = DatasetSplits.Select(Unsplit, "val", options).Images.Select(i => i.ImageId).ToList();
        Assert.Equal(val, DatasetSplits.Select(Unsplit, "val", options).Images.Select(i => i.ImageId));

        // Fixed values (checked against a separate Python implementation of the hash): a per-process
        // randomized hash (string.GetHashCode) would not reproduce them.
        Assert.Equal(["train", "val", "train", "val", "train"],
            new[] { "391895", "522418", "184613", "1000268201_693b08cb0e.jpg", "318219" }
                .Select(id => DatasetSplits.HashSplit(id, new SplitOptions(0.2, 0.2, 0))));

        // An image keeps its split when the others change.
        var half = Unsplit with { Images = Unsplit.Images.Where((_, i) => i % 2 == 0).ToList() };
        var halfVal = DatasetSplits.Select(half, "val", options).Images.Select(i => i.ImageId);
        Assert.Equal(val.Intersect(half.Images.Select(i => i.ImageId)), halfVal);

        // Another seed, another split.
        Assert.NotEqual(val, DatasetSplits.Select(Unsplit, "val", options with { Seed = 1 }).Images.Select(i => i.ImageId));
    }

    [Fact]
    public void The_file_s_own_splits_win_and_restval_is_train()
    {
        var data = Dataset([("1", "train"), ("2", "restval"), ("3", "val"), ("4", "test"), ("5", null), ("6", "train")]);
        var options = new SplitOptions(ValFraction: 0.5, TestFraction: 0.5);
        Assert.Equal(["1", "2", "6"], DatasetSplits.Select(data, "train", options).Images.Select(i => i.ImageId));
        Assert.Equal(["3"], DatasetSplits.Select(data, "val", options).Images.Select(i => i.ImageId));
        Assert.Equal(["4"], DatasetSplits.Select(data, "test", options).Images.Select(i => i.ImageId));
    }

    [Fact]
    public void Bad_names_and_fractions_are_rejected()
    {
        Assert.Contains("unknown split 'dev'", Assert.Throws<ArgumentException>(() => DatasetSplits.Select(Unsplit, "dev", new SplitOptions())).Message);
        Assert.Throws<ArgumentException>(() => DatasetSplits.Select(Unsplit, "val", new SplitOptions(0.6, 0.6)));
        Assert.Throws<ArgumentException>(() => DatasetSplits.Select(Unsplit, "val", new SplitOptions(-0.1)));
    }
}
