using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;

namespace CaptionService.Model.Tests.Checkpoints;

public class HfGenerationTests
{
    private static DecodingOptions Read(TempDir dir, JsonObject? generation = null, Action<JsonObject>? editConfig = null)
    {
        var config = TestFiles.VisionEncoderDecoderConfig(32, 1, 2, 64, 32, 16, 100, 16, 99);
        editConfig?.Invoke(config);
        TestFiles.Json(dir["config.json"], config);
        if (generation is not null) TestFiles.Json(dir[HfGeneration.FileName], generation);
        else File.Delete(dir[HfGeneration.FileName]);
        return HfImporter.ReadConfig(dir.Path).Decoding;
    }

    [Fact]
    public void Generation_config_settings_become_the_decoding_defaults()
    {
        using var dir = new TempDir();
        var d = Read(dir, new JsonObject { ["max_length"] = 16, ["num_beams"] = 4, ["length_penalty"] = 0.8, ["no_repeat_ngram_size"] = 3 });
        Assert.Equal(DecodingStrategy.Beam, d.Strategy);
        Assert.Equal(15, d.MaxNewTokens); // max_length counts the decoder start token
        Assert.Equal(4, d.NumBeams);
        Assert.Equal(0.8, d.LengthPenalty);
        Assert.Equal(3, d.NoRepeatNgramSize);

        d = Read(dir, new JsonObject { ["do_sample"] = true, ["temperature"] = 0.7, ["top_p"] = 0.9, ["max_new_tokens"] = 12, ["max_length"] = 50 });
        Assert.Equal((DecodingStrategy.Sample, 0.7, 0.9, 50, 12), (d.Strategy, d.Temperature, d.TopP, d.TopK, d.MaxNewTokens)); // top_k: transformers' 50
    }

    [Fact]
    public void Without_a_generation_config_the_keys_of_config_json_or_transformers_defaults_apply()
    {
        using var dir = new TempDir();
        var d = Read(dir);
        Assert.Equal((DecodingStrategy.Greedy, 19, 50), (d.Strategy, d.MaxNewTokens, d.TopK));

        d = Read(dir, editConfig: c => { c["max_length"] = 10; c["num_beams"] = 2; });
        Assert.Equal((DecodingStrategy.Beam, 9, 2), (d.Strategy, d.MaxNewTokens, d.NumBeams));
    }

    [Fact]
    public void Impossible_settings_name_the_file_and_key()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => Read(dir, new JsonObject { ["max_length"] = 1 }));
        Assert.Contains($"{dir[HfGeneration.FileName]}: max_length leaves no room", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Read(dir, new JsonObject { ["do_sample"] = true, ["temperature"] = 0 }));
        Assert.Contains("temperature must be positive", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Read(dir, new JsonObject { ["top_p"] = 1.5 }));
        Assert.Contains("top_p must be in (0, 1]", e.Message);
    }
}
