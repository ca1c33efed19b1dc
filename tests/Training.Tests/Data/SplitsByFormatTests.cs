using System.Text;
using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

/// <summary>
/// For every reader format, in its real folder layout: the split <c>train</c> makes is by image, its test share
/// is never trained on, <c>OUT/splits.json</c> records it, and <c>evaluate</c> on the run takes that test split
/// by default and refuses images the run trained on.
/// </summary>
public sealed class SplitsByFormatTests : IDisposable
{
    private const int Images = 60;
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>A dataset of <see cref="Images"/> images with two captions each; returns the annotation file.
    /// Own splits (Karpathy, Flickr with its lists, JSONL with a split field): every fifth image test, every
    /// fifth + 1 val.</summary>
    private string Write(string format)
    {
        string Name(int i) => $"{1000268201 + i}_{i:x4}.png";
        string OwnSplit(int i) => (i % 5) switch { 0 => "test", 1 => "val", _ => "train" };
        var images = Enumerable.Range(0, Images).ToList();
        var text = new StringBuilder();
        switch (format)
        {
            case "coco":
                foreach (var i in images) dir.Png($"train2017/{i:D12}.png");
                return dir.Write("annotations/captions_train2017.json",
                    "{\"images\": [" + string.Join(",", images.Select(i => $"{{\"id\": {i + 1}, \"file_name\": \"{i:D12}.png\"}}")) + "], " +
                    "\"annotations\": [" + string.Join(",", images.SelectMany(i => new[] { 2 * i, 2 * i + 1 }.Select(a =>
                        $"{{\"id\": {a}, \"image_id\": {i + 1}, \"caption\": \"A picture number {a}.\"}}"))) + "]}");
            case "karpathy":
                foreach (var i in images) dir.Png($"Flicker8k_Dataset/{Name(i)}");
                return dir.Write("dataset_flickr8k.json",
                    "{\"images\": [" + string.Join(",", images.Select(i =>
                        $"{{\"filename\": \"{Name(i)}\", \"imgid\": {i}, \"split\": \"{OwnSplit(i)}\", \"sentences\": [{{\"raw\": \"A dog {i}.\"}}, {{\"raw\": \"A cat {i}.\"}}]}}")) +
                    "], \"dataset\": \"flickr8k\"}");
            case "flickr-token":
            case "flickr-token-with-lists":
                foreach (var i in images) dir.Png($"Flicker8k_Dataset/{Name(i)}");
                foreach (var i in images) text.Append($"{Name(i)}#0\tA dog {i} .\n{Name(i)}#1\tA cat {i} .\n");
                if (format.EndsWith("lists"))
                    foreach (var (file, split) in new[] { ("trainImages", "train"), ("devImages", "val"), ("testImages", "test") })
                        dir.Write($"Flickr_8k.{file}.txt", string.Concat(images.Where(i => OwnSplit(i) == split).Select(i => Name(i) + "\n")));
                return dir.Write("Flickr8k.token.txt", text.ToString());
            case "kaggle-csv":
                foreach (var i in images) dir.Png($"Images/{Name(i)}");
                text.Append("image,caption\n");
                foreach (var i in images) text.Append($"{Name(i)},A dog {i} .\n{Name(i)},\"A cat, {i} .\"\n");
                return dir.Write("captions.txt", text.ToString());
            case "flickr30k-csv":
                foreach (var i in images) dir.Png($"flickr30k_images/{Name(i)}");
                text.Append("image_name| comment_number| comment\n");
                foreach (var i in images) text.Append($"{Name(i)}| 0| A dog {i} .\n{Name(i)}| 1| A cat {i} .\n");
                return dir.Write("results.csv", text.ToString());
            case "csv":
                foreach (var i in images) dir.Png($"images/{Name(i)}");
                text.Append("file_name,caption\n");
                foreach (var i in images) text.Append($"{Name(i)},a dog {i}\n{Name(i)},a cat {i}\n");
                return dir.Write("captions.csv", text.ToString());
            case "jsonl":
                foreach (var i in images) dir.Png($"images/{Name(i)}");
                foreach (var i in images) text.Append($"{{\"image\": \"{Name(i)}\", \"captions\": [\"a dog {i}\", \"a cat {i}\"], \"split\": \"{OwnSplit(i)}\"}}\n");
                return dir.Write("captions.jsonl", text.ToString());
            default:
                throw new ArgumentException(format);
        }
    }

    public static TheoryData<string, bool> Formats => new()
    {
        { "coco", false }, { "karpathy", true }, { "flickr-token", false }, { "flickr-token-with-lists", true },
        { "kaggle-csv", false }, { "flickr30k-csv", false }, { "csv", false }, { "jsonl", true },
    };

    private static readonly SplitOptions Shares = new(ValFraction: 0.2, TestFraction: 0.2, Seed: 3);

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_plan_keeps_the_test_share_out_of_training(string format, bool ownSplits)
    {
        var data = DatasetReader.Read(Write(format));
        Assert.Equal(Images, data.Images.Count);
        var plan = DatasetSplits.Plan(data, null, Shares);
        Assert.Equal(ownSplits, plan.OwnSplits);
        var (train, val, test) = (Ids(plan.Train), Ids(plan.Val), Ids(plan.Test));
        Assert.Equal(Images, train.Count + val.Count + test.Count);
        Assert.Empty(train.Intersect(test));
        Assert.Empty(train.Intersect(val));
        Assert.Empty(val.Intersect(test));
        Assert.Equal(ownSplits ? 12 : test.Count, test.Count); // own splits: every fifth image
        Assert.InRange(test.Count, 4, 22);                        // the hash: 12 expected
        Assert.Equal(test, Ids(DatasetSplits.Select(data, "test", Shares).Images));

        // With a separate validation file the test share still stays out of training.
        var withVal = DatasetSplits.Plan(data, data, Shares);
        Assert.Empty(Ids(withVal.Train).Intersect(test));
    }

    private static HashSet<string> Ids(IEnumerable<CaptionedImage> images) => images.Select(i => i.ImageId).ToHashSet();

    [Theory]
    [MemberData(nameof(Formats))]
    public void Train_records_its_splits_and_evaluate_refuses_images_it_trained_on(string format, bool ownSplits)
    {
        var file = Write(format);
        var run = dir.Path("run");
        var (code, output, error) = CliHarness.Run("train", "--data", file, "--preset", "tiny", "--out", run, "--max-steps", "1", "--batch-size", "8",
            "--val-fraction", "0.2", "--test-fraction", "0.2", "--split-seed", "3", "--val-captions", "0", "--device", "cpu");
        Assert.True(code == 0, error);
        var splits = RunSplits.Load(Path.Combine(run, RunSplits.FileName));
        Assert.Equal(file, splits.Data);
        Assert.Equal(ownSplits, splits.OwnSplits);
        Assert.NotEmpty(splits.Test.Ids);
        Assert.Empty(splits.Train.Ids.Intersect(splits.Test.Ids));
        Assert.Empty(splits.Train.Files.Intersect(splits.Test.Files));
        Assert.Contains($"test (held out, never trained on): {splits.Test.Images} images", output);

        // The default split of the training file is the run's test split, checked against what it trained on.
        (code, output, error) = CliHarness.Run("evaluate", "--checkpoint", Path.Combine(run, "last"), "--data", file, "--max-tokens", "3", "--device", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains($"captioning {splits.Test.Images} images (test)", output);
        Assert.Contains("none of these", output);

        // The whole file includes the training images: refused, naming the run's splits.
        (code, _, error) = CliHarness.Run("evaluate", "--checkpoint", Path.Combine(run, "best"), "--data", file, "--split", "all", "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Contains($"{splits.Train.Images} of the {Images} 'all' images", error);
        Assert.Contains(Path.Combine(run, RunSplits.FileName), error);

        // Other split options give another test share, which overlaps the training images: refused too.
        if (!ownSplits)
        {
            (code, _, error) = CliHarness.Run("evaluate", "--checkpoint", Path.Combine(run, "best"), "--data", file, "--split-seed", "4", "--device", "cpu");
            Assert.Equal(2, code);
            Assert.Contains("were used to train this checkpoint", error);
        }
    }
}
