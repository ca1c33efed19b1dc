using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class BleuTests
{
    [Fact]
    public void A_perfect_match_scores_one()
    {
        var score = Bleu.Score([
            new TokenizedItem("a man riding a horse on the beach", ["a man riding a horse on the beach", "someone on a horse"]),
            new TokenizedItem("two dogs play in the snow", ["a dog runs", "two dogs play in the snow"]),
        ]);
        // Every n-gram matches and the closest reference has the hypothesis' length: each order's factor is
        // (c + 1e-15) / (c + 1e-9) = 1 - O(1e-10), and there is no brevity penalty.
        foreach (var bleu in score.Corpus) Assert.Equal(1.0, bleu, 1e-9);
        Assert.Equal(14, score.HypothesisLength);
        Assert.Equal(14, score.ReferenceLength);
    }

    [Fact]
    public void Corpus_counts_closest_reference_length_and_brevity_penalty_by_hand()
    {
        TokenizedItem[] corpus =
        [
            new("the cat sat", ["cat sat", "the dog sat down"]),
            new("a dog", ["a dog runs on grass", "the dog is running fast now"]),
        ];
        // Image 1: hypothesis 3 words; references 2 and 4 words are both 1 away: the tie goes to the shorter, 2.
        //   1-grams the, cat, sat: each in some reference            -> correct 3 of guess 3
        //   2-grams "the cat" (no), "cat sat" (ref 1)                 -> 1 of 2
        //   3-gram "the cat sat" (no)                                 -> 0 of 1
        //   4-grams: none                                             -> 0 of 0
        // Image 2: hypothesis 2 words; references 5 and 6 words: closest 5.
        //   1-grams a, dog -> 2 of 2; 2-gram "a dog" (ref 1) -> 1 of 1; no 3- or 4-grams -> 0 of 0.
        // Corpus: correct [5, 2, 0, 0], guess [5, 3, 1, 0], hypothesis length 5, reference length 2 + 5 = 7.
        // Brevity penalty: ratio 5/7 < 1 -> exp(1 - 7/5) = exp(-0.4) = 0.6703200460.
        //   BLEU-1 = (5/5)^(1/1) * BP                                 = 0.6703200
        //   BLEU-2 = (5/5 * 2/3)^(1/2) * BP = 0.8164966 * 0.6703200   = 0.5473140
        //   BLEU-3 = (1 * 2/3 * (0 + 1e-15)/(1 + 1e-9))^(1/3) * BP    = (6.667e-16)^(1/3) * BP = 5.8558e-6
        //   BLEU-4 = (1 * 2/3 * 1e-15 * (0 + 1e-15)/(0 + 1e-9))^(1/4) * BP = (6.667e-22)^(1/4) * BP = 3.4061e-6
        // (With the longer reference on the tie the reference length would be 9 and BP exp(-0.8) = 0.449.)
        var score = Bleu.Score(corpus);
        Assert.Equal(5, score.HypothesisLength);
        Assert.Equal(7, score.ReferenceLength);
        double bp = Math.Exp(-0.4);
        Assert.Equal(bp, score.Corpus[0], 1e-9);
        Assert.Equal(Math.Sqrt(2.0 / 3) * bp, score.Corpus[1], 1e-9);
        AssertRelative(Math.Pow(2.0 / 3 * 1e-15, 1.0 / 3) * bp, score.Corpus[2], 1e-6);
        AssertRelative(Math.Pow(2.0 / 3 * 1e-15 * 1e-6, 1.0 / 4) * bp, score.Corpus[3], 1e-6);

        // The same numbers from an independent Python transcription of bleu_scorer.py (compute_score(option="closest")).
        AssertRelative(0.6703200457675116, score.Corpus[0], 1e-12);
        AssertRelative(0.5473140254600025, score.Corpus[1], 1e-12);
        AssertRelative(5.8557849692146025e-06, score.Corpus[2], 1e-12);
        AssertRelative(3.4061156693652727e-06, score.Corpus[3], 1e-12);

        // Per image: the formula on each image alone. Image 1: 3 words vs 2, no penalty; 1-grams 3/3, 2-grams 1/2.
        Assert.Equal(1.0, score.PerImage[0][0], 1e-9);
        Assert.Equal(Math.Sqrt(0.5), score.PerImage[0][1], 1e-9);
        // Image 2: 2 words vs 5: BP = exp(1 - 5/2) = exp(-1.5); 1- and 2-grams all correct.
        Assert.Equal(Math.Exp(-1.5), score.PerImage[1][0], 1e-9);
        Assert.Equal(Math.Exp(-1.5), score.PerImage[1][1], 1e-9);
        // An order with no n-grams at all contributes (1e-15)/(1e-9) = 1e-6: BLEU-3 = (1 * 1 * 1e-6)^(1/3) * BP = 0.01 * BP.
        Assert.Equal(0.01 * Math.Exp(-1.5), score.PerImage[1][2], 1e-9);
        for (int i = 0; i < corpus.Length; i++)
            Assert.Equal(Bleu.Score([corpus[i]]).Corpus, score.PerImage[i]);
    }

    [Theory]
    [InlineData(new[] { 2, 4 }, 3, 2)] // tie: the shorter
    [InlineData(new[] { 4, 2 }, 3, 2)] // order does not matter
    [InlineData(new[] { 9, 5, 7 }, 6, 5)]
    [InlineData(new[] { 9, 8 }, 3, 8)]
    [InlineData(new[] { 3 }, 10, 3)]
    public void Closest_reference_length(int[] lengths, int hypothesis, int expected) =>
        Assert.Equal(expected, Bleu.ClosestLength(lengths, hypothesis));

    [Fact]
    public void Counts_are_clipped_by_the_most_generous_single_reference()
    {
        // "the the the the": 4 unigrams; "the" occurs at most twice in one reference -> correct 2 of 4 (not 3 = 2 + 1).
        // Closest length: refs 3 and 4 words, hypothesis 4 -> 4, no penalty. BLEU-1 = 2/4.
        var score = Bleu.Score([new TokenizedItem("the the the the", ["the cat the", "on the mat ."])]);
        Assert.Equal(0.5, score.Corpus[0], 1e-9);
    }

    [Fact]
    public void An_empty_hypothesis_scores_zero()
    {
        var score = Bleu.Score([new TokenizedItem("", ["a dog"])]);
        Assert.All(score.Corpus, b => Assert.Equal(0.0, b, 1e-12));
    }

    [Fact]
    public void Rejects_an_empty_corpus_or_an_image_without_references()
    {
        Assert.Throws<ArgumentException>(() => Bleu.Score([]));
        Assert.Contains("no references", Assert.Throws<ArgumentException>(() => Bleu.Score([new TokenizedItem("a", [])])).Message);
    }

    internal static void AssertRelative(double expected, double actual, double tolerance) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");
}
