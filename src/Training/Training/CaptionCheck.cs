using CaptionService.Model;
using CaptionService.Training.Data;
using CaptionService.Training.Evaluation;
using static TorchSharp.torch;

namespace CaptionService.Training.Training;

/// <summary>
/// What greedy captions of some validation images say after an epoch: the share exactly right (equal to a
/// reference after the metric tokenization) and, for synthetic scenes, the per-attribute error rates.
/// </summary>
/// <param name="Scene">null unless the images are synthetic scenes.</param>
public sealed record CaptionCheck(int Images, double ExactMatch, SceneErrors? Scene)
{
    /// <summary>Captions <paramref name="images"/> with <paramref name="model"/> (greedy, its own token limit, batches of
    /// <paramref name="batch"/>), leaving the model in eval mode.</summary>
    public static CaptionCheck Run(Captioner model, IReadOnlyList<CaptionedImage> images, int batch = 32)
    {
        var pipeline = new CaptionPipeline(model);
        var options = model.Config.Decoding with { Strategy = DecodingStrategy.Greedy };
        var items = new List<(string Prediction, IReadOnlyList<string> References)>(images.Count);
        using (no_grad())
            foreach (var chunk in images.Chunk(batch))
            {
                var pixels = chunk.Select(i => pipeline.Preprocessor.ToChw(File.ReadAllBytes(i.ImagePath))).ToList();
                foreach (var (image, caption) in chunk.Zip(pipeline.Caption(pixels, options)))
                    items.Add((caption.Text, image.Captions));
            }
        return new CaptionCheck(items.Count, CaptionScorer.ExactMatchRate(items), SceneErrors.Analyze(items));
    }
}
