using CaptionService.Training.Data;

namespace CaptionService.Training.Tests.Data;

public sealed class CocoReaderTests : IDisposable
{
    private readonly DataDir dir = new();

    public void Dispose() => dir.Dispose();

    // The real layout: annotations/captions_train2017.json beside train2017/. One record per line here
    // (the real file is minified) so that line numbers can be checked.
    private string WriteCoco(string thirdCaption = "A man riding a wave on top of a surfboard.") => dir.Write("annotations/captions_train2017.json", $$"""
        {"info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org", "version": "1.0", "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"},
        "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "Attribution-NonCommercial-ShareAlike License"}],
        "images": [
        {"license": 3, "file_name": "000000391895.png", "coco_url": "http://images.cocodataset.org/train2017/000000391895.jpg", "height": 3, "width": 4, "date_captured": "2013-11-14 11:18:45", "flickr_url": "http://farm9.staticflickr.com/8186/8119368305_4e622c8349_z.jpg", "id": 391895},
        {"license": 4, "file_name": "000000522418.png", "coco_url": "http://images.cocodataset.org/train2017/000000522418.jpg", "height": 3, "width": 4, "date_captured": "2013-11-14 11:38:44", "flickr_url": "http://farm1.staticflickr.com/1/127244861_ab0c0381e7_z.jpg", "id": 522418},
        {"license": 3, "file_name": "000000184613.png", "coco_url": "http://images.cocodataset.org/train2017/000000184613.jpg", "height": 3, "width": 4, "date_captured": "2013-11-14 12:36:29", "flickr_url": "http://farm3.staticflickr.com/2169/2118578392_1193aa04a0_z.jpg", "id": 184613},
        {"license": 3, "file_name": "000000000009.png", "height": 3, "width": 4, "id": 9}
        ],
        "annotations": [
        {"image_id": 522418, "id": 37, "caption": "A woman wearing a net on her head cutting a cake. "},
        {"image_id": 391895, "id": 48, "caption": "A man with a red helmet on a small moped on a dirt road. "},
        {"image_id": 522418, "id": 49, "caption": "  A woman cutting a large white sheet cake.\n"},
        {"image_id": 184613, "id": 50, "caption": "{{thirdCaption}}"}
        ]}
        """);

    [Fact]
    public void Reads_images_in_file_order_with_all_captions_from_the_sibling_split_folder()
    {
        var a = dir.Png("train2017/000000391895.png");
        var b = dir.Png("train2017/000000522418.png");
        var json = WriteCoco(); // 184613 has no file; 9 has no captions
        var data = DatasetReader.Read(json);

        Assert.Equal(DatasetFormat.Coco, data.Format);
        Assert.Equal(json, data.Source);
        Assert.Equal(["391895", "522418"], data.Images.Select(i => i.ImageId));
        Assert.Equal([a, b], data.Images.Select(i => i.ImagePath));
        Assert.Equal(["A man with a red helmet on a small moped on a dirt road."], data.Images[0].Captions);
        Assert.Equal(["A woman wearing a net on her head cutting a cake.", "A woman cutting a large white sheet cake."], data.Images[1].Captions);
        Assert.All(data.Images, i => Assert.Null(i.Split));
        DataDir.AssertCounts(data, read: 4);
        Assert.Equal(1, data.Report.MissingImages);
        Assert.Equal([dir.Path("train2017/000000184613.png")], data.Report.MissingExamples);
    }

    [Fact]
    public void Missing_images_can_be_fatal_and_the_root_can_be_given()
    {
        dir.Png("train2017/000000391895.png");
        dir.Png("train2017/000000522418.png");
        var json = WriteCoco();
        var e = Assert.Throws<FileNotFoundException>(() => DatasetReader.Read(json, new DatasetReadOptions(FailOnMissingImages: true)));
        Assert.Contains(json, e.Message);
        Assert.Contains("1 of 3 image files are missing", e.Message);

        dir.Png("elsewhere/000000184613.png");
        var data = DatasetReader.Read(json, new DatasetReadOptions(ImageRoot: dir.Path("elsewhere")));
        Assert.Equal(["184613"], data.Images.Select(i => i.ImageId));
        Assert.Equal(2, data.Report.MissingImages);
    }

    [Fact]
    public void Malformed_records_are_named_by_file_line_and_field()
    {
        var json = WriteCoco(thirdCaption: "   ");
        var e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(json));
        Assert.Contains($"{json}:13 (annotations[3])", e.Message);
        Assert.Contains("empty caption for image 184613", e.Message);

        var noCaption = dir.Write("annotations/captions_val2017.json",
            """{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "id": 2}]}""");
        e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(noCaption));
        Assert.Contains($"{noCaption}:1 (annotations[0])", e.Message);
        Assert.Contains("field 'caption' is missing", e.Message);

        var broken = dir.Write("annotations/captions_test2017.json", "{\"images\": [\n{\"id\": 1,, }]}");
        e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(broken));
        Assert.Contains($"{broken}:2: invalid JSON", e.Message);

        var instances = dir.Write("annotations/instances.json", """{"images": [], "categories": []}""");
        e = Assert.Throws<InvalidDataException>(() => DatasetReader.Read(instances));
        Assert.Contains("no 'annotations' array", e.Message);
    }
}
