using CaptionService.Model.Imaging;

namespace CaptionService.Training.Cli;

internal static class ImageFiles
{
    /// <summary>Reads and preprocesses one image file. A file that cannot be read, or is not an
    /// image the model takes, is an <see cref="InvalidDataException"/> that names it.</summary>
    public static float[] Load(ImagePreprocessor preprocessor, string path)
    {
        try
        {
            return preprocessor.ToChw(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageRejectedException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }
}
