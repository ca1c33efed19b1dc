using System.Text.Json.Serialization;
using CaptionService.Training.Data.Synthetic;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// Per-attribute errors of captions of synthetic scenes (<see cref="SceneCaptions"/>): of the images, how many
/// predictions are not a caption of the grammar, name the wrong number of shapes, or get a colour, a shape kind,
/// a size or a position wrong (an image can count under several attributes). The predicted shapes are matched
/// to the true ones in the way that gets the most of colour, kind and size right, so a pair named the wrong way
/// round (left and right swapped) is a position error, not two colour and kind errors.
/// </summary>
/// <param name="Images">Images analysed.</param>
public sealed record SceneErrors(int Images, int Exact, int Unparsed, int WrongCount, int Colour, int Shape, int Size, int Position)
{
    /// <summary>(name, count) in print order.</summary>
    [JsonIgnore]
    public IReadOnlyList<(string Name, int Count)> Counts =>
        [("exact", Exact), ("not in the grammar", Unparsed), ("wrong number of shapes", WrongCount), ("colour", Colour), ("shape", Shape),
         ("size", Size), ("position", Position)];

    public double Rate(int count) => Images == 0 ? double.NaN : count / (double)Images;

    /// <summary>
    /// The errors of <paramref name="items"/>, or null when they are not synthetic scenes (some reference is not a
    /// caption of the grammar, or an image's references disagree).
    /// </summary>
    public static SceneErrors? Analyze(IEnumerable<(string Prediction, IReadOnlyList<string> References)> items)
    {
        int images = 0, exact = 0, unparsed = 0, count = 0, colour = 0, shape = 0, size = 0, position = 0;
        foreach (var (prediction, references) in items)
        {
            var truths = references.Select(SceneCaptions.Parse).ToList();
            if (truths.Count == 0 || truths.Any(t => t is null) || truths.Any(t => !t!.SequenceEqual(truths[0]!))) return null;
            var truth = truths[0]!;
            images++;
            var predicted = SceneCaptions.Parse(prediction);
            if (predicted is null) { unparsed++; continue; }
            if (predicted.Count != truth.Count) { count++; continue; }
            if (predicted.SequenceEqual(truth)) exact++;
            var matched = BestMatch(predicted, truth);
            if (matched.Any(p => p.P.Colour != p.T.Colour)) colour++;
            if (matched.Any(p => p.P.Kind != p.T.Kind)) shape++;
            if (matched.Any(p => p.P.Size != p.T.Size)) size++;
            if (matched.Any(p => p.P.Placement != p.T.Placement)) position++;
        }
        return new SceneErrors(images, exact, unparsed, count, colour, shape, size, position);
    }

    /// <summary>Pairs predicted with true shapes: in order, or (two shapes) crossed when that matches more attributes.</summary>
    private static List<(SynthShape P, SynthShape T)> BestMatch(IReadOnlyList<SynthShape> predicted, IReadOnlyList<SynthShape> truth)
    {
        var straight = predicted.Zip(truth).ToList();
        if (predicted.Count != 2) return straight;
        List<(SynthShape, SynthShape)> crossed = [(predicted[0], truth[1]), (predicted[1], truth[0])];
        static int Misses(List<(SynthShape P, SynthShape T)> pairs) =>
            pairs.Sum(p => (p.P.Colour != p.T.Colour ? 1 : 0) + (p.P.Kind != p.T.Kind ? 1 : 0) + (p.P.Size != p.T.Size ? 1 : 0));
        return Misses(crossed) < Misses(straight) ? crossed : straight;
    }

    /// <summary>One "name: count (rate)" line per count, after an "images: N" line.</summary>
    public void WriteTable(TextWriter writer)
    {
        writer.WriteLine($"synthetic scenes: {Images} images");
        foreach (var (name, n) in Counts)
            writer.WriteLine(FormattableString.Invariant($"  {name}: {n} ({Rate(n):P1})"));
    }
}
