namespace CaptionService.Training.Evaluation;

/// <summary>A metric's corpus score and the score of each image, in the corpus order.</summary>
public sealed record MetricScore(double Corpus, IReadOnlyList<double> PerImage);
