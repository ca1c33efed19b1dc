namespace CaptionService.Training.Data;

/// <summary>One image and every reference caption of it.</summary>
/// <param name="ImageId">The dataset's own id: COCO's integer id as text, or the file name for Flickr-style sets.</param>
/// <param name="ImagePath">Absolute path of the image file.</param>
/// <param name="Split">The file's own split ("train", "val", "test", "restval"...), or null when it has none.</param>
public sealed record CaptionedImage(string ImageId, string ImagePath, IReadOnlyList<string> Captions, string? Split);

/// <summary>What reading a dataset found besides the images: files that are not there, and so on.</summary>
/// <param name="CaptionsRead">Every valid caption in the file, including those of images skipped as missing.</param>
/// <param name="MissingImages">Images whose file is not there (skipped), with a few of their paths as examples.</param>
/// <param name="SkippedLines">Malformed records skipped under <see cref="DatasetReadOptions.SkipMalformedLines"/>,
/// with a few "file:line: problem" examples.</param>
public sealed record DatasetReport(int CaptionsRead, int MissingImages, IReadOnlyList<string> MissingExamples,
    int SkippedLines = 0, IReadOnlyList<string>? SkippedExamples = null)
{
    public override string ToString() =>
        $"{CaptionsRead} captions"
        + (MissingImages == 0 ? "" : $", {MissingImages} missing image files (e.g. {string.Join(", ", MissingExamples)})")
        + (SkippedLines == 0 ? "" : $", {SkippedLines} malformed lines skipped (e.g. {string.Join("; ", SkippedExamples ?? [])})");
}

/// <summary>A captioning dataset: images with all their references, in file order.</summary>
/// <param name="Source">The annotation file it was read from.</param>
/// <param name="Format">The format it was read as.</param>
public sealed record CaptionDataset(string Source, DatasetFormat Format, IReadOnlyList<CaptionedImage> Images, DatasetReport Report);

public enum DatasetFormat
{
    /// <summary>COCO captions JSON (<c>captions_train2017.json</c>): <c>images</c> + <c>annotations</c>.</summary>
    Coco,
    /// <summary>Karpathy split JSON (<c>dataset_coco.json</c>, <c>dataset_flickr8k.json</c>, ...): per-image <c>split</c> and <c>sentences</c>.</summary>
    Karpathy,
    /// <summary>Flickr8k/30k token file (<c>name.jpg#0&lt;TAB&gt;caption</c>), with the standard split lists beside it.</summary>
    FlickrToken,
    /// <summary>Kaggle Flickr8k <c>captions.txt</c>: CSV with a header <c>image,caption</c>.</summary>
    KaggleCsv,
    /// <summary>Kaggle Flickr30k <c>results.csv</c>: <c>image_name| comment_number| comment</c>.</summary>
    Flickr30kCsv,
    /// <summary>Plain CSV with a header naming an image column and a caption column.</summary>
    Csv,
    /// <summary>JSON lines, one <c>{"image": ..., "caption": ...}</c> object per line.</summary>
    Jsonl,
}

/// <summary>How to read: where the images are, and what to do about missing ones.</summary>
/// <param name="ImageRoot">Folder the file's image names are relative to. Default: each format's usual folders (the
/// annotation file's folder; for COCO also <c>../train2017/</c> for <c>captions_train2017.json</c>; <c>Images/</c> for
/// Kaggle's <c>captions.txt</c>; <c>Flicker8k_Dataset/</c>...), the one holding most of the first images winning.</param>
/// <param name="FailOnMissingImages">true: a missing image file is an error; false: it is counted, reported and skipped.</param>
/// <param name="Format">The file's format; null: detected from its name and first bytes (<see cref="DatasetReader.Detect"/>).</param>
/// <param name="SkipMalformedLines">false (default): a malformed record (bad field count, empty caption...) is an error
/// naming the file and line; true: it is skipped and counted in <see cref="DatasetReport.SkippedLines"/>
/// (e.g. for the few broken lines of Kaggle's Flickr30k <c>results.csv</c>). Broken JSON in a COCO or Karpathy file and
/// broken CSV quoting are always errors.</param>
public sealed record DatasetReadOptions(string? ImageRoot = null, bool FailOnMissingImages = false, DatasetFormat? Format = null,
    bool SkipMalformedLines = false);
