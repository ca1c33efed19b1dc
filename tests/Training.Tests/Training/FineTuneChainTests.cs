using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Tests.Checkpoints;
using CaptionService.Training.Data.Synthetic;

namespace CaptionService.Training.Tests.Training;

/// <summary>
/// Fine-tuning from pretrained files end to end, on tiny random models written in the real key layouts (timm
/// <c>vit_base_patch16_224</c>'s names, HF <c>gpt2</c>'s Conv1D layout and config.json) in local folders:
/// <c>import-pretrained timm-gpt2</c>, then <c>train</c> with the seed's staged unfreezing, then <c>evaluate</c>.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FineTuneChainTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Import_then_train_with_staged_unfreezing_then_evaluate()
    {
        // ViT width 48 so that the preset's 12 heads divide it (timm files do not record heads); the real
        // GPT-2 vocabulary, so that the real tokenizer's ids fit.
        TestFiles.Save(dir["vit/model.safetensors"], TestFiles.Random(SourceKeys.TimmVit(width: 48, layers: 2, mlp: 96, patch: 8, image: 32, classes: 10), seed: 1));
        TestFiles.Save(dir["gpt2/model.safetensors"], TestFiles.Random(SourceKeys.Gpt2(positions: 64, width: 32, layers: 2, mlp: 128), seed: 2));
        TestFiles.Json(dir["gpt2/config.json"], TestFiles.Gpt2Config(vocab: 50257, positions: 64, width: 32, layers: 2, heads: 4, endToken: 50256));
        var imported = Path.Combine(dir.Path, "imported");
        var (code, output, error) = CliHarness.Run("import-pretrained", "timm-gpt2", "--vit", Path.Combine(dir.Path, "vit"),
            "--gpt2", Path.Combine(dir.Path, "gpt2"), "--out", imported);
        Assert.True(code == 0, error);

        var synth = Path.Combine(dir.Path, "synth");
        SynthData.Generate(synth, images: 40, seed: 2, imageSize: 32);
        var run = Path.Combine(dir.Path, "run");
        (code, output, error) = CliHarness.Run("train", "--checkpoint", imported, "--recipe", "fine-tune",
            "--data", Path.Combine(synth, "captions_train.json"), "--val-data", Path.Combine(synth, "captions_val.json"),
            "--out", run, "--epochs", "2", "--batch-size", "8", "--device", "cpu");
        Assert.True(code == 0, error);

        // The seed's stages: cross-attention alone in the first epoch, GPT-2 joins in the second; the ViT waits for the third.
        using var before = Checkpoint.Load(imported);
        var counts = before.CountParameters();
        Assert.Contains($"epoch 1: training cross-attention only: {counts.CrossAttention:N0} trainable parameters", output);
        Assert.Contains($"epoch 2: training cross-attention + GPT-2 decoder: {counts.CrossAttention + counts.Decoder:N0} trainable parameters", output);
        using var after = Checkpoint.Load(Path.Combine(run, "last"));
        var start = before.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in after.named_parameters())
        {
            bool same = p.equal(start[name]).all().item<bool>();
            if (name.StartsWith("encoder.")) Assert.True(same, $"{name} changed while the ViT was frozen");
            else if (name.EndsWith(".weight") && p.dim() == 2) Assert.False(same, $"{name} did not train");
        }

        (code, output, error) = CliHarness.Run("evaluate", "--checkpoint", Path.Combine(run, "last"), "--data", Path.Combine(synth, "captions_test.json"),
            "--out", Path.Combine(dir.Path, "eval"), "--max-tokens", "8", "--device", "cpu");
        Assert.True(code == 0, error);
        Assert.Contains("captioning 4 images (test)", output);
        Assert.Contains("none of these 4 images was trained on", output);
        Assert.Contains("exact-match:", output);
        Assert.Contains("synthetic scenes: 4 images", output);
        Assert.True(File.Exists(Path.Combine(dir.Path, "eval", "metrics.json")));
    }
}
