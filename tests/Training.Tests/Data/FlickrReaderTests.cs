using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

public sealed class FlickrReaderTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Flickr8k_token_file_with_split_lists_and_the_official_image_folder()
    {
        var a = dir.Png("Flicker8k_Dataset/1000268201_693b08cb0e.png");
        var b = dir.Png("Flicker8k_Dataset/1001773457_577c3a7d70.png");
        var c = dir.Png("Flicker8k_Dataset/1002674143_1b742ab4b8.png");
        var token = dir.Write("Flickr8k.token.txt", """
            1000268201_693b08cb0e.png#0	A child in a pink dress is climbing up a set of stairs in an entry way .
            1000268201_693b08cb0e.png#1	A girl going into a wooden building .
            1001773457_577c3a7d70.png#0	A black dog and a spotted dog are fighting
            1002674143_1b742ab4b8.png#0	A little girl covered in paint sits in front of a painted rainbow with her hands in a bowl .
            2258277193_586949ec62.png.1#0	A dog in a field .
            1000268201_693b08cb0e.png#2	A little girl climbing into a wooden playhouse .

            """);
        dir.Write("Flickr_8k.trainImages.txt", "1000268201_693b08cb0e.png\n");
        dir.Write("Flickr_8k.devImages.txt", "1001773457_577c3a7d70.png\n");
        dir.Write("Flickr_8k.testImages.txt", "1002674143_1b742ab4b8.png\n");

        var data = DatasetReader.Read(token);
        Assert.Equal(DatasetFormat.FlickrToken, data.Format);
        Assert.Equal(["1000268201_693b08cb0e.png", "1001773457_577c3a7d70.png", "1002674143_1b742ab4b8.png"], data.Images.Select(i => i.ImageId));
        Assert.Equal([a, b, c], data.Images.Select(i => i.ImagePath));
        Assert.Equal(["train", "val", "test"], data.Images.Select(i => i.Split));
        Assert.Equal(3, data.Images[0].Captions.Count);
        Assert.Equal("A little girl climbing into a wooden playhouse .", data.Images[0].Captions[2]);
        DataDir.AssertCounts(data, read: 6);
        Assert.Equal(1, data.Report.MissingImages); // the .png.1 quirk
        Assert.EndsWith("2258277193_586949ec62.png.1", data.Report.MissingExamples[0]);
    }

    [Fact]
    public void Flickr30k_token_file_finds_its_folder_and_names_a_bad_line()
    {
        var a = dir.Png("flickr30k-images/1000092795.png");
        var token = dir.Write("results_20130124.token",
            "1000092795.png#0\tTwo young guys with shaggy hair look at their hands while hanging out in the yard .\n" +
            "1000092795.png#1\tTwo young , White males are outside near many bushes .\n" +
            "1000092795.png Two friends enjoy time spent together .\n");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(token));
        Assert.Contains($"{token}:3: expected IMAGE#N<TAB>caption", e.Message);

        var data = DatasetReader.Read(token, new DatasetReadOptions(SkipMalformedLines: true));
        Assert.Equal(a, Assert.Single(data.Images).ImagePath);
        Assert.Null(data.Images[0].Split);
        Assert.Equal(1, data.Report.SkippedLines);
    }

    [Fact]
    public void Flickr30k_results_csv_is_strict_about_its_broken_lines_unless_told()
    {
        var a = dir.Png("flickr30k_images/1000092795.png");
        var b = dir.Png("flickr30k_images/2199200615.png");
        var csv = dir.Write("results.csv", """
            image_name| comment_number| comment
            1000092795.png| 0| Two young guys with shaggy hair look at their hands while hanging out in the yard .
            1000092795.png| 1| Two young , White males are outside near many bushes .
            2199200615.png| 3| A dog runs across the grass .
            2199200615.png| 4 A dog runs across the grass .
            3333333333.png| 0| A missing picture .

            """);
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(csv));
        Assert.Contains($"{csv}:5: expected 3 '|'-separated fields", e.Message);

        var data = DatasetReader.Read(csv, new DatasetReadOptions(SkipMalformedLines: true));
        Assert.Equal(DatasetFormat.Flickr30kCsv, data.Format);
        Assert.Equal([a, b], data.Images.Select(i => i.ImagePath));
        Assert.Equal(["Two young guys with shaggy hair look at their hands while hanging out in the yard .", "Two young , White males are outside near many bushes ."],
            data.Images[0].Captions);
        Assert.Equal(1, data.Report.SkippedLines);
        Assert.Contains($"{csv}:5", data.Report.SkippedExamples![0]);
        DataDir.AssertCounts(data, read: 4);
        Assert.Equal([dir.Path("flickr30k_images/3333333333.png")], data.Report.MissingExamples);
        Assert.Contains("1 malformed lines (e.g.", data.Report.ToString());

        var empty = dir.Write("other/results.csv", "image_name| comment_number| comment\n1.png| 0|   \n");
        e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(empty));
        Assert.Contains($"{empty}:2: empty caption", e.Message);
    }
}
