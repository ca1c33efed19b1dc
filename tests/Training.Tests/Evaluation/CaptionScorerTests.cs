using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class CaptionScorerTests
{
    [Fact]
    public void Tokenizes_then_agrees_with_the_reference_code_on_the_tokenized_text()
    {
        foreach (var (id, text) in MiniCorpus.Predictions)
        {
            Assert.Equal(MiniCorpus.TokenizedPredictions[id], CaptionTokenization.Tokenize(text));
            Assert.Equal(MiniCorpus.TokenizedReferences[id], MiniCorpus.References[id].Select(CaptionTokenization.Tokenize));
        }

        var report = CaptionScorer.Score(MiniCorpus.Predictions, MiniCorpus.References);
        Assert.Equal(5, report.Images);
        Assert.Equal(MiniCorpus.Bleu1, report.Bleu1, 1e-12);
        Assert.Equal(MiniCorpus.Bleu2, report.Bleu2, 1e-12);
        Assert.Equal(MiniCorpus.Bleu3, report.Bleu3, 1e-12);
        Assert.Equal(MiniCorpus.Bleu4, report.Bleu4, 1e-12);
        Assert.Equal(MiniCorpus.RougeL, report.RougeL, 1e-12);
        Assert.Equal(MiniCorpus.CiderD, report.CiderD, 1e-12);
        Assert.Equal(MiniCorpus.Predictions.Keys, report.PerImage.Select(p => p.ImageId));
        foreach (var image in report.PerImage)
        {
            Assert.Equal(MiniCorpus.PerImage[image.ImageId].Rouge, image.RougeL, 1e-12);
            Assert.Equal(MiniCorpus.PerImage[image.ImageId].Cider, image.CiderD, 1e-12);
        }

        // Already tokenized text scored as given: the same numbers.
        var tokenized = CaptionScorer.ScoreTokenized(MiniCorpus.TokenizedPredictions, MiniCorpus.TokenizedReferences);
        Assert.Equal(report.Metrics, tokenized.Metrics);
    }

    [Fact]
    public void Cross_check_against_a_larger_random_corpus()
    {
        // Pretokenized random captions over a small vocabulary (generated once in Python, seed 7), including a
        // one-word hypothesis and a hypothesis equal to a reference. Expected: the Python transcription.
        var predictions = new Dictionary<string, string>
        {
            ["158177"] = "the",
            ["415950"] = "an horse dogs",
            ["314329"] = "two near woman",
            ["358672"] = "are an blue the near horse street grass",
            ["714329"] = "two is blue with a",
            ["184778"] = "woman a standing water street cat on in a dogs are",
        };
        var references = new Dictionary<string, IReadOnlyList<string>>
        {
            ["158177"] = ["with street", "riding", "an the are are", "woman the", "are an water street dog woman red red street"],
            ["415950"] = ["dogs horse dog street in horse water", "cat dog street street red man with dog horse two the", "an table man standing blue horse are near of sitting"],
            ["314329"] = ["in riding standing of people sitting in table the dog"],
            ["358672"] = ["two with table standing street grass", "the water the on standing two blue the", "people"],
            ["714329"] = ["cat table dog standing an man", "in dogs people woman is is standing the cat sitting is horse on", "water are horse", "two are with blue is"],
            ["184778"] = ["woman a standing water street cat on in a dogs are", "red blue people an sitting near blue grass horse is", "is is dog standing red is an", "the man sitting cat", "of table"],
        };
        var report = CaptionScorer.ScoreTokenized(predictions, references);
        Assert.Equal(0.520309371929854, report.Bleu1, 1e-12);
        Assert.Equal(0.418503598064489, report.Bleu2, 1e-12);
        Assert.Equal(0.38092148684331806, report.Bleu3, 1e-12);
        Assert.Equal(0.3791841380261479, report.Bleu4, 1e-12);
        Assert.Equal(0.43376583004426944, report.RougeL, 1e-12);
        Assert.Equal(0.6659847930665475, report.CiderD, 1e-12);
    }

    [Fact]
    public void Different_image_ids_are_named()
    {
        var predictions = new Dictionary<string, string> { ["a"] = "x", ["only-predicted"] = "y" };
        var references = new Dictionary<string, IReadOnlyList<string>> { ["a"] = ["x"], ["only-referenced"] = ["z"] };
        var error = Assert.Throws<ArgumentException>(() => CaptionScorer.Score(predictions, references));
        Assert.Contains("only-predicted", error.Message);
        Assert.Contains("only-referenced", error.Message);
    }

    [Fact]
    public void An_image_without_references_is_named()
    {
        var error = Assert.Throws<ArgumentException>(() => CaptionScorer.Score(
            new Dictionary<string, string> { ["a"] = "x", ["b"] = "y" },
            new Dictionary<string, IReadOnlyList<string>> { ["a"] = ["x"], ["b"] = [] }));
        Assert.Contains("Image b", error.Message);
        Assert.Throws<ArgumentException>(() => CaptionScorer.Score(new Dictionary<string, string>(), new Dictionary<string, IReadOnlyList<string>>()));
    }

    [Fact]
    public void Table_has_one_line_per_metric()
    {
        var report = CaptionScorer.Score(MiniCorpus.Predictions, MiniCorpus.References);
        var writer = new StringWriter();
        CaptionScorer.WriteTable(report, writer);
        Assert.Equal(
            ["images: 5", "BLEU-1: 0.7568", "BLEU-2: 0.5754", "BLEU-3: 0.3661", "BLEU-4: 0.2173", "ROUGE-L: 0.6320", "CIDEr-D: 1.6987", "exact-match: 0.0000"],
            writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')));
    }

    [Fact]
    public void Exact_match_is_equality_with_a_reference_after_the_metric_tokenization()
    {
        var references = new Dictionary<string, IReadOnlyList<string>>
        {
            ["1"] = ["A large red circle on the left.", "there is a large red circle on the left"],
            ["2"] = ["a small blue square at the top"],
            ["3"] = ["a small blue square at the top"],
            ["4"] = ["Two dogs play."],
        };
        var predictions = new Dictionary<string, string>
        {
            ["1"] = "a large red circle on the LEFT",        // case and the final period do not count
            ["2"] = "a small blue square at the top.",
            ["3"] = "a small blue square at the bottom",     // one word off
            ["4"] = "two dogs play in the snow",            // a reference as a prefix is not a match
        };
        var report = CaptionScorer.Score(predictions, references);
        Assert.Equal(0.5, report.ExactMatch);
        Assert.Equal([1.0, 1.0, 0.0, 0.0], report.PerImage.Select(i => i.ExactMatch));
        Assert.Contains(("exact-match", 0.5), report.Metrics);
        Assert.Equal(0.5, CaptionScorer.ExactMatchRate(predictions.Select(p => (p.Value, references[p.Key]))));

        var table = new StringWriter();
        CaptionScorer.WriteTable(report, table);
        Assert.Contains("exact-match: 0.5000", table.ToString());
    }
}
