using CaptionService.Model.Checkpoints;
using CaptionService.Training.Tests.Data;

namespace CaptionService.Training.Tests.Training;

/// <summary><c>train</c>'s caption options: <c>--preset</c> gives the model the tokens of its captions (<c>--vocabulary</c>), a
/// checkpoint keeps its own; <c>--captions</c> says how an image's captions are shown.</summary>
public sealed class TrainCliTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Data(string name, params string[] captions)
    {
        var lines = new List<string> { "image,caption" };
        for (int i = 0; i < captions.Length; i++)
        {
            dir.Png($"Images/{name}{i}.png");
            lines.Add($"{name}{i}.png,{captions[i]}");
        }
        return dir.Write($"{name}.txt", string.Join('\n', lines) + "\n");
    }

    private (int Code, string Output, string Error) Train(string data, string outDir, params string[] more) => CliHarness.Run(
        ["train", "--data", data, "--out", dir.Path(outDir), "--max-steps", "1", "--batch-size", "2", "--val-fraction", "0.34",
            "--test-fraction", "0", "--val-captions", "0", "--device", "cpu", .. more]);

    [Fact]
    public void A_preset_learns_the_tokens_of_its_captions_and_a_checkpoint_refuses_new_ones()
    {
        var shapes = Data("shapes", "a red circle", "a blue square", "a red square", "a blue circle", "a red ring", "a blue ring");
        var (code, output, error) = Train(shapes, "run", "--preset", "tiny");
        Assert.True(code == 0, error);
        Assert.Contains("vocabulary: 7 tokens (those of the training and validation captions)", output); // a, red, blue, circle, square, ring, end
        var config = Checkpoint.ReadConfig(dir.Path("run/last"));
        Assert.Equal(7, config.VocabSize);
        Assert.Equal(7, config.TokenIds!.Length);

        (code, output, error) = Train(shapes, "gpt2", "--preset", "tiny", "--vocabulary", "gpt2");
        Assert.True(code == 0, error);
        Assert.Contains("vocabulary: 50257 tokens (GPT-2's)", output);

        var animals = Data("animals", "a red dog", "a blue circle", "a red square");
        (code, _, error) = Train(animals, "more", "--checkpoint", dir.Path("run/last"));
        Assert.Equal(2, code);
        Assert.Contains("image animals0.png: 'a red dog': the token ' dog'", error);
        Assert.Contains("train from --preset", error);

        (code, _, error) = Train(shapes, "again", "--checkpoint", dir.Path("run/last"), "--vocabulary", "captions");
        Assert.Equal(2, code);
        Assert.Contains("--vocabulary is for --preset", error);
        (code, _, error) = Train(shapes, "bad", "--preset", "tiny", "--vocabulary", "words");
        Assert.Equal(2, code);
        Assert.Contains("--vocabulary: 'words' is not captions or gpt2", error);
    }

    [Fact]
    public void Captions_all_trains_on_every_caption_of_an_image_and_an_unknown_sampling_is_refused()
    {
        // Two captions for each of three images.
        var lines = new List<string> { "image,caption" };
        foreach (var (name, first, second) in new[] { ("c", "a red circle", "a circle"), ("s", "a blue square", "a square"), ("r", "a red ring", "a ring") })
        {
            dir.Png($"Images/{name}.png");
            lines.Add($"{name}.png,{first}");
            lines.Add($"{name}.png,{second}");
        }
        var shapes = dir.Write("pairs.txt", string.Join('\n', lines) + "\n");
        var (code, output, error) = Train(shapes, "all", "--preset", "tiny", "--captions", "all");
        Assert.True(code == 0, error);
        Assert.Contains("(each image once, with all of its captions)", output);

        foreach (var bad in new[] { "", "every", "ALL;rm -rf /", new string('a', 10_000) })
        {
            (code, _, error) = Train(shapes, "bad", "--preset", "tiny", "--captions", bad);
            Assert.Equal(2, code);
            Assert.Contains("--captions: unknown value", error);
            Assert.Contains("(each, one or all)", error);
        }
    }
}
