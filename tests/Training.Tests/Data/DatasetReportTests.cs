using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

/// <summary>What a read kept and what it skipped, and what it says when it finds no images at all.</summary>
public sealed class DatasetReportTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Kaggle(string folder)
    {
        dir.Png($"{folder}/1.png");
        dir.Png($"{folder}/2.png");
        return dir.Write("captions.txt", "image,caption\n1.png,a dog\n1.png,a brown dog\n2.png,a cat\n3.png,a bird\n3.png,a small bird\n");
    }

    [Fact]
    public void The_summary_counts_kept_and_skipped_captions_apart()
    {
        var data = DatasetReader.Read(Kaggle("Images"));
        Assert.Equal(3, data.Report.CaptionsKept);
        Assert.Equal(2, data.Report.CaptionsOfMissingImages);
        Assert.Equal(dir.Path("Images"), data.Report.ImageRoot);
        Assert.Equal($"3 captions; skipped: 1 images not found under {dir.Path("Images")} (2 captions; e.g. {dir.Path("Images/3.png")})",
            data.Report.ToString());

        var (code, output, _) = CliHarness.Run("train", "--data", dir.Path("captions.txt"), "--preset", "tiny", "--out", dir.Path("run"),
            "--max-steps", "1", "--val-fraction", "0.4", "--test-fraction", "0", "--val-captions", "0", "--device", "cpu");
        Assert.Contains($"{dir.Path("captions.txt")}: 2 images, 3 captions; skipped: 1 images not found", output);
        Assert.InRange(code, 0, 2); // two images may not split into train and val; the summary comes first either way
    }

    [Fact]
    public void No_image_found_names_the_folders_searched_and_the_option_that_fixes_it()
    {
        var file = Kaggle("photos");
        var e = Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(file));
        Assert.Contains($"{file}: none of its 3 images was found", e.Message);
        Assert.Contains($"looked in {dir.Path("Images")}, {dir.Root}", e.Message);
        Assert.Contains("--image-root", e.Message);
        Assert.Equal(2, DatasetReader.Read(file, new DatasetReadOptions(ImageRoot: dir.Path("photos"))).Images.Count);

        var (code, _, error) = CliHarness.Run("evaluate", "--preset", "tiny", "--data", file);
        Assert.Equal(2, code);
        Assert.Contains("none of its 3 images was found", error);
        Assert.Contains("--image-root", error);
    }

    [Fact]
    public void Split_lists_do_not_hide_images_in_the_wrong_folder()
    {
        dir.Png("elsewhere/a.png");
        var token = dir.Write("Flickr8k.token.txt", "a.png#0\ta dog .\na.png#1\ta brown dog .\n");
        dir.Write("Flickr_8k.testImages.txt", "a.png\n");
        var e = Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(token));
        Assert.Contains(dir.Path("Flicker8k_Dataset"), e.Message);
        Assert.Contains("--image-root", e.Message);
        var data = DatasetReader.Read(token, new DatasetReadOptions(ImageRoot: dir.Path("elsewhere")));
        Assert.Equal(["test"], data.Images.Select(i => i.Split));
    }
}
