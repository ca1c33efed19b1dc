using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class RougeLTests
{
    [Fact]
    public void Precision_and_recall_are_maximized_separately_by_hand()
    {
        // Candidate: "a black dog runs on the grass" (7 words).
        // Ref 1 "a dog is running on grass" (6): LCS "a dog on grass" = 4 -> P = 4/7, R = 4/6.
        // Ref 2 "the black dog runs" (4):       LCS "black dog runs" = 3 -> P = 3/7, R = 3/4.
        // P = max(4/7, 3/7) = 4/7 (ref 1), R = max(4/6, 3/4) = 3/4 (ref 2).
        // F = (1 + 1.2^2) P R / (R + 1.2^2 P) = 2.44 * (4/7)(3/4) / (3/4 + 1.44 * 4/7)
        //   = (7.32/7) / (11.01/7) = 7.32 / 11.01 = 0.6648501362
        var candidate = "a black dog runs on the grass";
        string[] refs = ["a dog is running on grass", "the black dog runs"];
        Assert.Equal(7.32 / 11.01, RougeL.Sentence(candidate, refs), 1e-12);

        // Corpus: the mean over images; a perfect match scores 1 -> (0.6648501362 + 1) / 2.
        var score = RougeL.Score([new TokenizedItem(candidate, refs), new TokenizedItem("a cat", ["a cat"])]);
        Assert.Equal((7.32 / 11.01 + 1) / 2, score.Corpus, 1e-12);
        Assert.Equal(0.832425068119891, score.Corpus, 1e-12); // the Python transcription of rouge.py
        Assert.Equal(7.32 / 11.01, score.PerImage[0], 1e-12);
        Assert.Equal(1.0, score.PerImage[1], 1e-12);
    }

    [Fact]
    public void No_common_word_scores_zero()
    {
        Assert.Equal(0.0, RougeL.Sentence("a red car", ["two dogs"]));
        Assert.Equal(0.0, RougeL.Sentence("", ["two dogs"]));
    }

    [Theory]
    [InlineData("a b c d e", "a c e", 3)]
    [InlineData("a b c", "c b a", 1)]
    [InlineData("x y", "a b", 0)]
    [InlineData("a b a b", "b a b a", 3)]
    public void Longest_common_subsequence(string a, string b, int expected)
    {
        Assert.Equal(expected, RougeL.LongestCommonSubsequence(a.Split(' '), b.Split(' ')));
        Assert.Equal(expected, RougeL.LongestCommonSubsequence(b.Split(' '), a.Split(' ')));
    }
}
