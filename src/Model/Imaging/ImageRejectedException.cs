namespace CaptionService.Model.Imaging;

/// <summary>Why an uploaded image was refused. The web service maps these to HTTP statuses.</summary>
public enum ImageRejectReason
{
    /// <summary>No bytes at all (400).</summary>
    Empty,
    /// <summary>More encoded bytes than <see cref="ImageLimits.MaxBytes"/> (413).</summary>
    TooLarge,
    /// <summary>Width x height over <see cref="ImageLimits.MaxPixels"/> (413).</summary>
    TooManyPixels,
    /// <summary>Not JPEG, PNG, WebP, BMP or GIF, or a variant of one that the decoder does not handle (415).</summary>
    UnsupportedFormat,
    /// <summary>A known format whose content is broken or truncated (400).</summary>
    Corrupt,
}

/// <summary>An image refused by <see cref="ImagePreprocessor"/>; <see cref="Exception.Message"/> is fit to show the client.</summary>
public sealed class ImageRejectedException : Exception
{
    public ImageRejectedException(ImageRejectReason reason, string message, Exception? inner = null)
        : base(message, inner) => Reason = reason;

    public ImageRejectReason Reason { get; }
}
