using CaptionService.Model.Text;

namespace CaptionService.Model.Tests.Text;

public class CaptionTokenizerTests
{
    private static readonly CaptionTokenizer Tokenizer = CaptionTokenizer.Default;
    private const int EndOfText = 50256;

    [Fact]
    public void Encode_KnownCaption_GivesGpt2Ids()
    {
        Assert.Equal([32, 3290, 2491, 319, 262, 10481, 13], Tokenizer.Encode("A dog running on the beach."));
    }

    [Fact]
    public void Encode_AddsNoSpecialTokens()
    {
        Assert.Empty(Tokenizer.Encode(""));
        Assert.DoesNotContain(EndOfText, Tokenizer.Encode("a cat"));
    }

    [Fact]
    public void SpecialIdsAndVocabSize_AreGpt2s()
    {
        Assert.Equal(50257, Tokenizer.VocabSize);
        Assert.Equal(EndOfText, Tokenizer.BosId);
        Assert.Equal(EndOfText, Tokenizer.EosId);
        Assert.Equal(EndOfText, Tokenizer.PadId);
    }

    [Theory]
    [InlineData("A dog running on the beach.")]
    [InlineData("two people riding bikes, one in red")]
    [InlineData("Un café près de la tour Eiffel 🗼")]
    public void Decode_RoundTripsEncode(string text)
    {
        Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text)));
    }

    [Fact]
    public void Decode_DropsEndOfTextAndTrims()
    {
        var ids = new List<int> { EndOfText };
        ids.AddRange(Tokenizer.Encode(" a dog on grass "));
        ids.AddRange([EndOfText, EndOfText, EndOfText]);

        Assert.Equal("a dog on grass", Tokenizer.Decode(ids));
        Assert.Equal("", Tokenizer.Decode([EndOfText, EndOfText]));
    }

    [Fact]
    public void Decode_UsesTheConfigsSpecialIds()
    {
        var tokenizer = new CaptionTokenizer(new ModelConfig { BosTokenId = 13, EosTokenId = 13, PadTokenId = 13 });
        Assert.Equal("A dog running on the beach", tokenizer.Decode(Tokenizer.Encode("A dog running on the beach.")));
    }

    [Fact]
    public void ForTraining_InputStartsWithBos_LabelsAreInputShiftedLeftEndingInEos()
    {
        var caption = Tokenizer.Encode("A dog running on the beach.");
        var (input, labels) = Tokenizer.ForTraining("A dog running on the beach.", maxLength: 64);

        Assert.Equal(caption.Count + 1, input.Length);
        Assert.Equal(input.Length, labels.Length);
        Assert.Equal([EndOfText, 32, 3290, 2491, 319, 262, 10481, 13], input);
        Assert.Equal([32, 3290, 2491, 319, 262, 10481, 13, EndOfText], labels);
        for (int i = 0; i < input.Length - 1; i++)
            Assert.Equal(input[i + 1], labels[i]);
    }

    [Fact]
    public void ForTraining_TruncatesTheCaptionAndKeepsEosLast()
    {
        var (input, labels) = Tokenizer.ForTraining("A dog running on the beach.", maxLength: 4);

        Assert.Equal([EndOfText, 32, 3290, 2491], input);
        Assert.Equal([32, 3290, 2491, EndOfText], labels);
    }

    [Fact]
    public void ForTraining_EdgeLengths()
    {
        var (input, labels) = Tokenizer.ForTraining("A dog running on the beach.", maxLength: 1);
        Assert.Equal([EndOfText], input);
        Assert.Equal([EndOfText], labels);

        (input, labels) = Tokenizer.ForTraining("", maxLength: 10);
        Assert.Equal([EndOfText], input);
        Assert.Equal([EndOfText], labels);

        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.ForTraining("a dog", maxLength: 0));
    }
}
