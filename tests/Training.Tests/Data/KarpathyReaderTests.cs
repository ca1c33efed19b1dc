using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

public sealed class KarpathyReaderTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Reads_raw_sentences_splits_and_coco_ids_under_filepath()
    {
        var a = dir.Png("val2014/COCO_val2014_000000391895.png");
        var b = dir.Png("train2014/COCO_train2014_000000057870.png");
        var c = dir.Png("val2014/COCO_val2014_000000522418.png");
        var json = dir.Write("dataset_coco.json", """
            {"images": [
            {"filepath": "val2014", "sentids": [770337, 771687], "filename": "COCO_val2014_000000391895.png", "imgid": 0, "split": "test", "sentences": [{"tokens": ["a", "man", "with", "a", "red", "helmet"], "raw": "A man with a red helmet on a small moped on a dirt road. ", "imgid": 0, "sentid": 770337}, {"tokens": ["man", "riding", "a", "motor", "bike"], "raw": "Man riding a motor bike on a dirt road on the countryside.", "imgid": 0, "sentid": 771687}], "cocoid": 391895},
            {"filepath": "train2014", "sentids": [787980], "filename": "COCO_train2014_000000057870.png", "imgid": 1, "split": "train", "sentences": [{"tokens": ["a", "restaurant"], "raw": "A restaurant has modern wooden tables and chairs.", "imgid": 1, "sentid": 787980}], "cocoid": 57870},
            {"filepath": "val2014", "sentids": [1], "filename": "COCO_val2014_000000522418.png", "imgid": 2, "split": "restval", "sentences": [{"tokens": ["a", "woman"], "raw": "A woman wearing a net on her head cutting a cake.", "imgid": 2, "sentid": 1}], "cocoid": 522418},
            {"filepath": "val2014", "sentids": [2], "filename": "COCO_val2014_000000184613.png", "imgid": 3, "split": "val", "sentences": [{"tokens": ["a", "child"], "raw": "A child holding a flowered umbrella.", "imgid": 3, "sentid": 2}], "cocoid": 184613}
            ], "dataset": "coco"}
            """);
        var data = DatasetReader.Read(json);

        Assert.Equal(DatasetFormat.Karpathy, data.Format);
        Assert.Equal(["391895", "57870", "522418"], data.Images.Select(i => i.ImageId));
        Assert.Equal([a, b, c], data.Images.Select(i => i.ImagePath));
        Assert.Equal(["test", "train", "restval"], data.Images.Select(i => i.Split));
        Assert.Equal(["A man with a red helmet on a small moped on a dirt road.", "Man riding a motor bike on a dirt road on the countryside."],
            data.Images[0].Captions);
        DataDir.AssertCounts(data, read: 5);
        Assert.Equal(1, data.Report.MissingImages);
        Assert.EndsWith("COCO_val2014_000000184613.png", data.Report.MissingExamples[0]);

        // "restval" counts as train.
        var train = DatasetSplits.Select(data, "train", new SplitOptions());
        Assert.Equal(["57870", "522418"], train.Images.Select(i => i.ImageId));
    }

    [Fact]
    public void Flickr_files_without_cocoid_use_the_file_name_and_a_flickr_image_folder()
    {
        var a = dir.Png("Flicker8k_Dataset/1000268201_693b08cb0e.png");
        var json = dir.Write("dataset_flickr8k.json", """
            {"images": [{"sentids": [0, 1], "imgid": 0, "sentences": [{"tokens": ["a", "child"], "raw": "A child in a pink dress is climbing up a set of stairs in an entry way .", "imgid": 0, "sentid": 0}, {"tokens": ["a", "girl"], "raw": "A girl going into a wooden building .", "imgid": 0, "sentid": 1}], "split": "train", "filename": "1000268201_693b08cb0e.png"}], "dataset": "flickr8k"}
            """);
        var data = DatasetReader.Read(json);
        var image = Assert.Single(data.Images);
        Assert.Equal("1000268201_693b08cb0e.png", image.ImageId);
        Assert.Equal(a, image.ImagePath);
        Assert.Equal(2, image.Captions.Count);
    }

    [Fact]
    public void A_sentence_without_raw_is_named_by_file_line_and_index()
    {
        var json = dir.Write("dataset_flickr30k.json", """
            {"images": [
            {"filename": "1.png", "split": "train", "sentences": [{"raw": "A dog."}]},
            {"filename": "2.png", "split": "val", "sentences": [{"tokens": ["a", "cat"]}]}
            ], "dataset": "flickr30k"}
            """);
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(json));
        Assert.Contains($"{json}:3 (images[1].sentences[0])", e.Message);
        Assert.Contains("field 'raw' is missing", e.Message);
    }
}
