using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class CiderDTests
{
    [Fact]
    public void Tiny_corpus_by_hand_with_clipping_and_length_penalty()
    {
        TokenizedItem[] corpus =
        [
            new("a dog a dog", ["a dog runs"]),
            new("a cat", ["a cat"]),
            new("a bird", ["birds fly"]),
        ];
        var score = CiderD.Score(corpus);

        // N = 3 images: log N = ln 3. Document frequency over the REFERENCES only:
        //   "a" is in 2 images' references -> weight per occurrence ln 3 - ln 2 = ln 1.5 =: a = 0.405465
        //   every other reference n-gram is in 1 image -> ln 3 - ln 1 = ln 3 =: b = 1.098612
        //   n-grams in no reference ("dog a", "bird", ...) -> ln 3 - ln max(1, 0) = ln 3 = b as well.
        double a = Math.Log(1.5), b = Math.Log(3);

        // Image 1: hypothesis "a dog a dog" vs reference "a dog runs".
        //   1-grams: hyp {a: 2a, dog: 2b}, ref {a: a, dog: b, runs: b}.
        //     clipped dot = min(2a, a)·a + min(2b, b)·b = a² + b²   (unclipped it would be 2a² + 2b²)
        //     ‖hyp‖ = 2·sqrt(a² + b²), ‖ref‖ = sqrt(a² + 2b²)  -> sim1 = sqrt(a² + b²) / (2·sqrt(a² + 2b²)) = 0.364652
        //   2-grams: hyp {"a dog": 2b, "dog a": b}, ref {"a dog": b, "dog runs": b}.
        //     dot = min(2b, b)·b = b², ‖hyp‖ = b·sqrt(5), ‖ref‖ = b·sqrt(2) -> sim2 = 1/sqrt(10) = 0.316228
        //   3-grams: none shared -> 0. 4-grams: the reference has none (norm 0: no division) -> 0.
        //   Length penalty: the reference code's "length" counts bigrams: 3 vs 2 -> delta 1 -> exp(-1/(2·6²)) = exp(-1/72).
        //   score = mean over the 4 orders · 10 / 1 reference = (sim1 + sim2) / 4 · exp(-1/72) · 10 = 1.678719
        double image1 = (Math.Sqrt(a * a + b * b) / (2 * Math.Sqrt(a * a + 2 * b * b)) + 1 / Math.Sqrt(10)) / 4 * Math.Exp(-1.0 / 72) * 10;
        Assert.Equal(image1, score.PerImage[0], 1e-12);
        Assert.Equal(1.678719088263356, score.PerImage[0], 1e-12);

        // Image 2: identical captions: 1-gram and 2-gram cosines are 1, 3- and 4-grams absent (0), delta 0:
        //   (1 + 1 + 0 + 0) / 4 · 10 = 5 (a perfect two-word caption does not score 10).
        Assert.Equal(5.0, score.PerImage[1], 1e-12);

        // Image 3: "a bird" vs "birds fly": nothing in common -> 0.
        Assert.Equal(0.0, score.PerImage[2], 1e-12);

        // Corpus: the mean over images = (1.678719 + 5 + 0) / 3 = 2.226240; the Python transcription of
        // cider_scorer.py gives 2.2262396960877853.
        Assert.Equal((image1 + 5) / 3, score.Corpus, 1e-12);
        Assert.Equal(2.2262396960877853, score.Corpus, 1e-12);
    }

    [Fact]
    public void Scores_average_over_references()
    {
        // Adding to image 2 a second reference with nothing in common halves its score (sum over refs / 2 refs),
        // provided the document frequencies stay the same: "zebra" occurs nowhere else and image 2's n-grams keep their df.
        TokenizedItem[] one = [new("a cat", ["a cat"]), new("a dog", ["a dog"])];
        TokenizedItem[] two = [new("a cat", ["a cat", "zebra"]), new("a dog", ["a dog"])];
        var first = CiderD.Score(one).PerImage[0];
        var second = CiderD.Score(two).PerImage[0];
        // With 1 word vs 2 words the bigram lengths are 0 vs 1 -> penalty exp(-1/72) on the zero-similarity ref.
        Assert.Equal(first / 2, second, 1e-12);
    }

    [Fact]
    public void A_single_image_corpus_scores_zero()
    {
        // log N = log 1 = 0: every weight is 0 (as in the reference code).
        Assert.Equal(0.0, CiderD.Score([new TokenizedItem("a cat", ["a cat"])]).Corpus);
    }
}
