using CaptionService.Model.Generation;
using CaptionService.Model.Imaging;
using CaptionService.Model.Text;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>A caption and where it came from.</summary>
public sealed record CaptionResult(string Text, IReadOnlyList<int> Tokens, double Score, bool Finished);

/// <summary>
/// Encoded image bytes in, text out, for one batch at a time: preprocessing, batched generation,
/// detokenization. The command line and tests use it directly; the web service batches requests
/// in front of the same pieces.
/// </summary>
public sealed class CaptionPipeline(Captioner model, ImageLimits? limits = null) : IDisposable
{
    public Captioner Model { get; } = model;
    public ModelConfig Config => Model.Config;
    public ImagePreprocessor Preprocessor { get; } = new(model.Config, limits);
    public CaptionTokenizer Tokenizer { get; } = new(model.Config);
    public CaptionGenerator Generator { get; } = new(model);

    /// <summary>Captions every image, in order. <paramref name="options"/> defaults to the checkpoint's decoding.</summary>
    public IReadOnlyList<CaptionResult> Caption(IReadOnlyList<byte[]> images, DecodingOptions? options = null) =>
        Caption(images.Select(Preprocessor.ToChw).ToList(), options);

    /// <summary>Captions images already preprocessed (<see cref="ImagePreprocessor.ToChw(byte[])"/>), in order.</summary>
    public IReadOnlyList<CaptionResult> Caption(IReadOnlyList<float[]> images, DecodingOptions? options = null)
    {
        using var scope = NewDisposeScope();
        var pixels = Preprocessor.ToBatch(images);
        return Generator.Generate(pixels, options ?? Model.Config.Decoding)
            .Select(s => new CaptionResult(Tokenizer.Decode(s.Tokens), s.Tokens, s.Score, s.Finished))
            .ToList();
    }

    /// <summary>Joins preprocessed images (<see cref="ImagePreprocessor.ToChw(byte[])"/>) to a running batch, one
    /// group each, encoded in one pass; the input tensor is freed before this returns.</summary>
    public void Admit(DecodingBatch batch, IEnumerable<float[]> images, IReadOnlyList<DecodingGroup> groups)
    {
        using var scope = NewDisposeScope();
        batch.Admit(Preprocessor.ToBatch(images), groups);
    }

    /// <summary>Starts joining preprocessed images to a running batch a few encoder blocks at a time
    /// (<see cref="DecodingBatch.BeginAdmit"/>); the input tensor is freed before this returns.</summary>
    public Admission BeginAdmit(DecodingBatch batch, IEnumerable<float[]> images, IReadOnlyList<DecodingGroup> groups)
    {
        using var scope = NewDisposeScope();
        return batch.BeginAdmit(Preprocessor.ToBatch(images), groups);
    }

    public void Dispose() => Model.Dispose();
}
