using System.Text.Json;
using System.Text.Json.Nodes;
using CaptionService.Model.Tests.Checkpoints;
using CaptionService.Model.Text;

namespace CaptionService.Model.Tests.Text;

public class Gpt2VocabularyTests
{
    private static void Check(TempDir dir, int vocabSize = Gpt2Vocabulary.Size) =>
        Gpt2Vocabulary.Check(dir.Path, vocabSize, dir["config.json"], []);

    private static void WriteVocab(TempDir dir, IEnumerable<KeyValuePair<string, int>> entries) =>
        File.WriteAllText(dir[Gpt2Vocabulary.VocabFileName], JsonSerializer.Serialize(entries.ToDictionary()));

    [Fact]
    public void The_vocabulary_spells_tokens_as_gpt2_s_vocab_json_does()
    {
        var v = Gpt2Vocabulary.Tokens;
        Assert.Equal(50257, v.Count);
        // Ids of the real vocab.json (and of the DESIGN's "A dog running on the beach." = 32 3290 2491 319 262 10481 13).
        Assert.Equal(0, v["!"]);
        Assert.Equal(32, v["A"]);
        Assert.Equal(3290, v["Ġdog"]);
        Assert.Equal(2491, v["Ġrunning"]);
        Assert.Equal(262, v["Ġthe"]);
        Assert.Equal(13, v["."]);
        Assert.Equal(198, v["Ċ"]); // "\n"
        Assert.Equal(50256, v["<|endoftext|>"]);
        Assert.Equal(v.Count, v.Values.Distinct().Count());
    }

    [Fact]
    public void Gpt2_s_own_files_pass_and_a_changed_or_extended_vocabulary_is_refused()
    {
        using var dir = new TempDir();
        WriteVocab(dir, Gpt2Vocabulary.Tokens);
        Check(dir);

        var e = Assert.Throws<InvalidDataException>(() => Check(dir, 50258));
        Assert.Contains($"{dir["config.json"]}: vocab_size is 50258", e.Message);

        File.WriteAllText(dir[Gpt2Vocabulary.AddedTokensFileName], """{"[PAD]": 50257}""");
        e = Assert.Throws<InvalidDataException>(() => Check(dir));
        Assert.Contains($"{dir[Gpt2Vocabulary.AddedTokensFileName]}: adds tokens GPT-2 does not have ('[PAD]' = 50257)", e.Message);
        File.Delete(dir[Gpt2Vocabulary.AddedTokensFileName]);

        var swapped = Gpt2Vocabulary.Tokens.ToDictionary();
        (swapped["Ġthe"], swapped["Ġdog"]) = (3290, 262);
        WriteVocab(dir, swapped);
        e = Assert.Throws<InvalidDataException>(() => Check(dir));
        Assert.Contains($"{dir[Gpt2Vocabulary.VocabFileName]}: not GPT-2's vocabulary (50257 tokens, 2 differ", e.Message);
        Assert.Contains("'Ġthe' is 3290 here and 262 in GPT-2", e.Message);
        Assert.DoesNotContain("\n", e.Message);

        // A BERT-like vocabulary, through tokenizer.json.
        File.Delete(dir[Gpt2Vocabulary.VocabFileName]);
        TestFiles.Json(dir[Gpt2Vocabulary.TokenizerFileName], new JsonObject
        {
            ["model"] = new JsonObject { ["type"] = "WordPiece", ["vocab"] = new JsonObject { ["[PAD]"] = 0, ["the"] = 1 } },
        });
        Assert.Contains("a WordPiece tokenizer, not GPT-2's byte-level BPE", Assert.Throws<InvalidDataException>(() => Check(dir)).Message);
    }

    [Fact]
    public void A_tokenizer_json_with_gpt2_s_vocabulary_and_end_token_passes()
    {
        using var dir = new TempDir();
        var vocab = new JsonObject();
        foreach (var (token, id) in Gpt2Vocabulary.Tokens) vocab[token] = id;
        TestFiles.Json(dir[Gpt2Vocabulary.TokenizerFileName], new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 50256, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() },
        });
        Check(dir);
    }

    [Fact]
    public void Without_tokenizer_files_only_a_larger_vocabulary_is_refused()
    {
        using var dir = new TempDir();
        Check(dir);
        Check(dir, 100); // tiny test models use GPT-2's first ids
        var e = Assert.Throws<InvalidDataException>(() => Check(dir, 60000));
        Assert.Contains("vocab_size 60000 is larger than GPT-2's 50257 tokens", e.Message);
    }
}
