using System.Text.Json.Nodes;
using CaptionService.Model.Checkpoints;

namespace CaptionService.Model.Tests.Checkpoints;

public class CheckpointFormatTests
{
    private static string Refusal(TempDir dir, JsonObject config)
    {
        TestFiles.Json(dir["config.json"], config);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointFormats.Detect(dir.Path));
        Assert.DoesNotContain("\n", e.Message); // one line
        Assert.Contains(CheckpointFormats.Supported, e.Message);
        // Checkpoint.Load refuses it the same way, before reading any weights.
        Assert.Equal(e.Message, Assert.Throws<InvalidDataException>(() => Checkpoint.Load(dir.Path)).Message);
        return e.Message;
    }

    [Fact]
    public void Ours_and_an_hf_vit_gpt2_are_told_apart()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], Presets.Tiny.ToJson());
        Assert.Equal(CheckpointFormat.CaptionService, CheckpointFormats.Detect(dir.Path));
        TestFiles.Json(dir["config.json"], TestFiles.VisionEncoderDecoderConfig(32, 1, 2, 64, 32, 16, 100, 16, 99));
        Assert.Equal(CheckpointFormat.HfVisionEncoderDecoder, CheckpointFormats.Detect(dir.Path));
    }

    [Fact]
    public void Other_architectures_are_refused_saying_what_they_are()
    {
        using var dir = new TempDir();
        var blip = Refusal(dir, new JsonObject { ["model_type"] = "blip", ["architectures"] = new JsonArray("BlipForConditionalGeneration") });
        Assert.Contains("a blip model (BlipForConditionalGeneration), not a ViT-GPT2 captioner", blip);

        var gpt2 = Refusal(dir, TestFiles.Gpt2Config(100, 16, 32, 1, 2, 99));
        Assert.Contains("a gpt2 model (GPT2LMHeadModel)", gpt2);

        var trocr = TestFiles.VisionEncoderDecoderConfig(32, 1, 2, 64, 32, 16, 100, 16, 99);
        trocr["encoder"]!["model_type"] = "deit";
        trocr["decoder"]!["model_type"] = "trocr";
        Assert.Contains("a VisionEncoderDecoder with a deit encoder and a trocr decoder", Refusal(dir, trocr));

        var timm = Refusal(dir, new JsonObject { ["architecture"] = "vit_base_patch16_224", ["num_classes"] = 1000 });
        Assert.Contains("a timm model (vit_base_patch16_224)", timm);
    }

    [Fact]
    public void The_hf_importer_refuses_a_checkpoint_of_ours()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["config.json"], Presets.Tiny.ToJson());
        Assert.Contains("a CaptionService checkpoint already", Assert.Throws<InvalidDataException>(() => HfImporter.ReadConfig(dir.Path)).Message);
    }
}
