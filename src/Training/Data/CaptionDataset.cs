namespace CaptionService.Training.Data;

/// <summary>One image and every reference caption of it.</summary>
/// <param name="ImageId">The dataset's own id: COCO's integer id as text, or the file name for Flickr-style sets.</param>
/// <param name="ImagePath">Absolute path of the image file.</param>
/// <param name="Split">The file's own split ("train", "val", "test", "restval"...), or null when it has none.</param>
public sealed record CaptionedImage(string ImageId, string ImagePath, IReadOnlyList<string> Captions, string? Split);

/// <summary>What reading a dataset kept and what it skipped, counted separately.</summary>
/// <param name="CaptionsKept">Captions of the images kept (the dataset's <see cref="CaptionDataset.Images"/>).</param>
/// <param name="MissingImages">Images whose file is not there (skipped, with their captions), with a few of their paths as examples.</param>
/// <param name="CaptionsOfMissingImages">Captions of those skipped images.</param>
/// <param name="SkippedLines">Malformed records skipped under <see cref="DatasetReadOptions.SkipMalformedLines"/>,
/// with a few "file:line: problem" examples.</param>
/// <param name="ImageRoot">The folder the image names were resolved against.</param>
/// <param name="SearchedRoots">The folders looked in to choose it (just the given one with <see cref="DatasetReadOptions.ImageRoot"/>).</param>
public sealed record DatasetReport(int CaptionsKept, int MissingImages, IReadOnlyList<string> MissingExamples,
    int SkippedLines = 0, IReadOnlyList<string>? SkippedExamples = null, int CaptionsOfMissingImages = 0,
    string? ImageRoot = null, IReadOnlyList<string>? SearchedRoots = null)
{
    /// <summary>"40000 captions; skipped: 92 images not found under DIR (460 captions; e.g. ...), 3 malformed lines (e.g. ...)".</summary>
    public override string ToString()
    {
        var skipped = new List<string>();
        if (MissingImages > 0)
            skipped.Add($"{MissingImages} images not found under {ImageRoot} ({CaptionsOfMissingImages} captions; e.g. {string.Join(", ", MissingExamples)})");
        if (SkippedLines > 0)
            skipped.Add($"{SkippedLines} malformed lines (e.g. {string.Join("; ", SkippedExamples ?? [])})");
        return $"{CaptionsKept} captions" + (skipped.Count == 0 ? "" : "; skipped: " + string.Join(", ", skipped));
    }
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
