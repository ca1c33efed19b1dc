using CaptionService.Model.Checkpoints;
using CaptionService.Model.Tests.Checkpoints;
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

/// <summary>A model with a vocabulary of its own: the tokens of its captions, as rows.</summary>
public class CaptionVocabularyTests
{
    private static readonly string[] Captions = ["a red circle on the left", "a blue square above a red circle"];
    private static readonly ModelConfig Config = CaptionTokenizer.WithVocabularyOf(Presets.Tiny, Captions);

    [Fact]
    public void The_vocabulary_is_the_captions_tokens_and_end_of_text_in_id_order()
    {
        var ids = Captions.SelectMany(c => CaptionTokenizer.Default.Encode(c)).Append(50256).Distinct().Order().ToArray();
        Assert.Equal(ids, Config.TokenIds);
        Assert.Equal(ids.Length, Config.VocabSize);
        Assert.Equal(ids.Length - 1, Config.EosTokenId);  // 50256 is the largest id: the last row
        Assert.Equal((Config.EosTokenId, Config.EosTokenId), (Config.BosTokenId, Config.PadTokenId));
        Assert.Empty(Config.Validate());
    }

    [Fact]
    public void Captions_become_rows_and_rows_become_the_same_text()
    {
        var tokenizer = new CaptionTokenizer(Config);
        var rows = tokenizer.Encode("a blue circle on the left");
        Assert.All(rows, r => Assert.InRange(r, 0, Config.VocabSize - 1));
        Assert.Equal("a blue circle on the left", tokenizer.Decode(rows.Append(Config.EosTokenId)));
        Assert.Equal(Config.VocabSize, tokenizer.VocabSize);
        var (input, labels) = tokenizer.ForTraining("a red square", 16);
        Assert.Equal(Config.BosTokenId, input[0]);
        Assert.Equal(Config.EosTokenId, labels[^1]);
    }

    [Fact]
    public void A_word_outside_the_vocabulary_is_named()
    {
        var e = Assert.Throws<UnknownTokenException>(() => new CaptionTokenizer(Config).Encode("a green star"));
        Assert.Contains("'a green star': the token ' green'", e.Message);
        Assert.Contains($"vocabulary of {Config.VocabSize} tokens", e.Message);
    }

    [Fact]
    public void The_vocabulary_survives_a_checkpoint_and_gives_the_model_its_rows()
    {
        using var dir = new TempDir();
        using (var model = new Captioner(Config)) Checkpoint.Save(model, dir.Path);
        Assert.Contains("\"token_ids\"", File.ReadAllText(Path.Combine(dir.Path, "config.json")));
        using var loaded = Checkpoint.Load(dir.Path, TorchSharp.torch.CPU);
        Assert.Equal(Config.TokenIds, loaded.Config.TokenIds);
        Assert.Equal([Config.VocabSize, Config.DecoderWidth], loaded.named_parameters().Single(p => p.name.EndsWith("wte.weight")).parameter.shape);
    }

    [Theory]
    [InlineData("\"abc\"", "$.token_ids")]                       // wrong type
    [InlineData("[1, 2.5, 50256]", "$.token_ids")]               // not integers
    [InlineData("[1, 1, 50256]", "token_ids must not repeat an id")]
    [InlineData("[]", "token_ids has 0 ids but vocab_size is 3")]
    public void A_hostile_token_ids_in_config_json_is_refused_naming_file_and_line(string value, string error)
    {
        using var dir = new TempDir();
        var json = System.Text.Json.Nodes.JsonNode.Parse(Presets.Tiny.ToJson())!.AsObject();
        (json["vocab_size"], json["bos_token_id"], json["eos_token_id"], json["pad_token_id"]) = (3, 2, 2, 2);
        json["token_ids"] = System.Text.Json.Nodes.JsonNode.Parse(value);
        File.WriteAllText(dir["config.json"], json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(dir.Path));
        Assert.Contains(dir["config.json"], e.Message);
        Assert.Contains("line ", e.Message);
        Assert.Contains(error, e.Message);
    }

    [Theory]
    [InlineData(new[] { 5, 5, 50256 }, 3, "token_ids must not repeat an id")]
    [InlineData(new[] { 5, 60000, 50256 }, 3, "token_ids must be GPT-2 token ids in [0, 50257)")]
    [InlineData(new[] { 5, 50256 }, 3, "token_ids has 2 ids but vocab_size is 3")]
    public void A_bad_vocabulary_is_refused_by_name(int[] ids, int size, string error)
    {
        var config = Presets.Tiny with { TokenIds = ids, VocabSize = size, BosTokenId = 1, EosTokenId = 1, PadTokenId = 1 };
        Assert.Contains(error, config.Validate());
    }
}
