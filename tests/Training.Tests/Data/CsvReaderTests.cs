using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

public sealed class CsvReaderTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Kaggle_captions_txt_with_quoted_commas_and_quotes()
    {
        var a = dir.Png("Images/1000268201_693b08cb0e.png");
        var b = dir.Png("Images/1001773457_577c3a7d70.png");
        var txt = dir.Write("captions.txt",
            "image,caption\r\n" +
            "1000268201_693b08cb0e.png,A child in a pink dress is climbing up a set of stairs in an entry way .\r\n" +
            "1000268201_693b08cb0e.png,\"A girl, in a \"\"pink\"\" dress, going into a wooden building .\"\r\n" +
            "1001773457_577c3a7d70.png,\"A black dog and a spotted dog\nare fighting\"\r\n" +
            "1001773457_577c3a7d70.png,A dog's \"toy\" .\r\n" +
            "missing.png,A dog .\r\n");
        var data = DatasetReader.Read(txt);
        Assert.Equal(DatasetFormat.KaggleCsv, data.Format);
        Assert.Equal([a, b], data.Images.Select(i => i.ImagePath));
        Assert.Equal("A girl, in a \"pink\" dress, going into a wooden building .", data.Images[0].Captions[1]);
        Assert.Equal(["A black dog and a spotted dog\nare fighting", "A dog's \"toy\" ."], data.Images[1].Captions);
        Assert.Equal(1, data.Report.MissingImages);
    }

    [Theory]
    [InlineData("x.png,A dog, running .\n", 3, "expected 2 fields as in the header, found 3")]
    [InlineData("x.png,\"A dog\" running\n", 3, "unexpected ' ' after a closing quote")]
    [InlineData("x.png,\"A dog\n\nrunning\n", 3, "unterminated quoted field")]
    [InlineData("x.png,  \n", 3, "empty caption for image x.png")]
    public void Kaggle_csv_errors_name_file_and_line(string badRow, int line, string problem)
    {
        var txt = dir.Write("captions.txt", "image,caption\nx.png,A dog .\n" + badRow);
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(txt));
        Assert.Contains($"{txt}:{line}: {problem}", e.Message);
    }

    [Fact]
    public void Plain_csv_with_named_columns_and_splits()
    {
        var a = dir.Png("pics/a.png");
        var b = dir.Png("pics/b.png");
        var csv = dir.Write("my.csv", "split,text,file_name\ntrain,a red car,pics/a.png\nval,a blue bus,pics/b.png\ntrain,\"a car, red\",pics/a.png\n");
        var data = DatasetReader.Read(csv);
        Assert.Equal(DatasetFormat.Csv, data.Format);
        Assert.Equal(["pics/a.png", "pics/b.png"], data.Images.Select(i => i.ImageId));
        Assert.Equal([a, b], data.Images.Select(i => i.ImagePath));
        Assert.Equal(["train", "val"], data.Images.Select(i => i.Split));
        Assert.Equal(["a red car", "a car, red"], data.Images[0].Captions);
        Assert.Equal(0, data.Report.MissingImages);

        File.Delete(b);
        var missing = Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(csv, new DatasetReadOptions(FailOnMissingImages: true)));
        Assert.Contains($"{csv}: 1 of 2 image files are missing", missing.Message);

        var bad = dir.Write("bad.csv", "picture,caption\nx.png,a dog\n");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(bad));
        Assert.Contains($"{bad}:1: the header needs an image column", e.Message);

        var conflict = dir.Write("conflict.csv", "image,caption,split\npics/a.png,a,train\npics/a.png,b,test\n");
        e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(conflict));
        Assert.Contains($"{conflict}:3: image pics/a.png is in split 'test' here but 'train' at {conflict}:2", e.Message);
    }

    [Fact]
    public void Jsonl_with_caption_or_captions_and_split()
    {
        var a = dir.Png("images/a.png");
        var b = dir.Png("images/b.png");
        var jsonl = dir.Write("data.jsonl", """
            {"image": "a.png", "caption": "a red car ", "split": "train"}
            {"image": "b.png", "captions": ["a blue bus", "a bus that is blue"], "split": "test"}

            {"image": "c.png", "caption": "a cat"}
            {"image": "a.png", "caption": "a car", "split": "train"}
            """);
        var data = DatasetReader.Read(jsonl);
        Assert.Equal(DatasetFormat.Jsonl, data.Format);
        Assert.Equal([a, b], data.Images.Select(i => i.ImagePath)); // found under images/ beside the file
        Assert.Equal(["a red car", "a car"], data.Images[0].Captions);
        Assert.Equal(["a blue bus", "a bus that is blue"], data.Images[1].Captions);
        Assert.Equal(["train", "test"], data.Images.Select(i => i.Split));
        Assert.Equal(1, data.Report.MissingImages);
        DataDir.AssertCounts(data, read: 5);

        var bad = dir.Write("bad.jsonl", "{\"image\": \"a.png\", \"caption\": \"x\"}\n{\"image\": \"a.png\", \"caption\": 3}\n{oops\n");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(bad));
        Assert.Contains($"{bad}:2: field 'caption' is a number, not a string", e.Message);
        var skipped = DatasetReader.Read(bad, new DatasetReadOptions(SkipMalformedLines: true));
        Assert.Equal(2, skipped.Report.SkippedLines);
        Assert.Contains($"{bad}:3: invalid JSON", skipped.Report.SkippedExamples![1]);
    }

    [Theory]
    [InlineData("captions_train2017.json", "{}", DatasetFormat.Coco)]
    [InlineData("my.json", "{\"images\": [{\"sentences\": []}]}", DatasetFormat.Karpathy)]
    [InlineData("dataset_coco.json", "{}", DatasetFormat.Karpathy)]
    [InlineData("Flickr8k.token.txt", "a.jpg#0\tx", DatasetFormat.FlickrToken)]
    [InlineData("Flickr8k.lemma.token.txt", "a.jpg#0\tx", DatasetFormat.FlickrToken)]
    [InlineData("results_20130124.token", "a.jpg#0\tx", DatasetFormat.FlickrToken)]
    [InlineData("tokens.txt", "a.jpg#0\tx", DatasetFormat.FlickrToken)]
    [InlineData("captions.txt", "image,caption\n", DatasetFormat.KaggleCsv)]
    [InlineData("results.csv", "image_name| comment_number| comment\n", DatasetFormat.Flickr30kCsv)]
    [InlineData("data.csv", "image,caption\n", DatasetFormat.Csv)]
    [InlineData("data.jsonl", "{}", DatasetFormat.Jsonl)]
    public void Detects_the_format_from_name_and_content(string name, string content, DatasetFormat expected) =>
        Assert.Equal(expected, DatasetReader.Detect(dir.Write(name, content)));

    [Fact]
    public void Unknown_formats_and_names()
    {
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(dir.Write("notes.txt", "hello")));
        Assert.Contains("cannot tell the dataset format", e.Message);
        Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(dir.Path("none.json")));
        Assert.Equal(DatasetFormat.FlickrToken, DatasetReader.ParseFormat("flickr-token"));
        Assert.Equal(DatasetFormat.Flickr30kCsv, DatasetReader.ParseFormat("flickr30k-csv"));
        Assert.Throws<ArgumentException>(() => DatasetReader.ParseFormat("parquet"));
    }
}
