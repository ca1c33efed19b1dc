using System.Text.Json;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Tests.Checkpoints;
using CaptionService.TestSupport;
using CaptionService.Training.Cli;
using CaptionService.Training.Data.Synthetic;

namespace CaptionService.Training.Tests.Training;

/// <summary>
/// Fine-tuning from public weights end to end, through a fake Hugging Face Hub on loopback serving tiny random
/// models in the real key layouts (timm <c>vit_base_patch16_224</c>'s names and pretrained_cfg, HF <c>gpt2</c>'s
/// Conv1D layout, config.json and vocab.json): <c>import-pretrained timm-gpt2</c> from <c>hf:</c> ids, then
/// <c>train</c> with the seed's staged unfreezing, then <c>evaluate</c> on the run's held-out images.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FineTuneChainTests : IAsyncLifetime
{
    private readonly TempDir dir = new();
    private FakeHub hub = null!;
    private Dictionary<string, string> environment = [];

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        hub.AddRepo("timm/vit_base_patch16_224.augreg2_in21k_ft_in1k", TinyRepos.TimmVit());
        hub.AddRepo("openai-community/gpt2", TinyRepos.Gpt2());
        environment = new() { ["HF_ENDPOINT"] = hub.Endpoint.ToString(), ["HF_HUB_CACHE"] = dir["cache"] };
    }

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        dir.Dispose();
    }

    /// <summary>captioner in-process, its Hub settings from <see cref="environment"/> (not the process's).</summary>
    private (int Code, string Out, string Err) Captioner(params string[] args)
    {
        HubModels.Environment.Value = name => environment.GetValueOrDefault(name);
        return CliHarness.Run(args);
    }

    [Fact]
    public void Import_from_the_hub_then_train_with_staged_unfreezing_then_evaluate()
    {
        var imported = Path.Combine(dir.Path, "imported");
        var (code, output, error) = Captioner("import-pretrained", "timm-gpt2", "--vit", "hf:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k",
            "--gpt2", "hf:openai-community/gpt2", "--out", imported);
        Assert.True(code == 0, error);
        Assert.True(hub.TransfersOf("model.safetensors") >= 2, "the weights did not come from the Hub");

        // A file without splits of its own (Kaggle's captions.txt: image,caption): train splits it by image and
        // never sees the test share.
        var synth = Path.Combine(dir.Path, "synth");
        SynthData.Generate(synth, images: 60, seed: 2, imageSize: 32);
        var data = Path.Combine(synth, "captions.txt");
        using (var coco = JsonDocument.Parse(File.ReadAllText(Path.Combine(synth, "captions_train.json"))))
        {
            var files = coco.RootElement.GetProperty("images").EnumerateArray()
                .ToDictionary(i => i.GetProperty("id").GetInt64(), i => Path.GetFileName(i.GetProperty("file_name").GetString()!));
            File.WriteAllLines(data, ["image,caption", .. coco.RootElement.GetProperty("annotations").EnumerateArray()
                .Select(a => $"{files[a.GetProperty("image_id").GetInt64()]},{a.GetProperty("caption").GetString()}")]);
        }
        var images = Path.Combine(synth, "images");
        var run = Path.Combine(dir.Path, "run");
        (code, output, error) = Captioner("train", "--checkpoint", imported, "--recipe", "fine-tune", "--data", data, "--image-root", images,
            "--val-fraction", "0.1", "--test-fraction", "0.1", "--out", run, "--epochs", "2", "--batch-size", "8", "--device", "cpu");
        Assert.True(code == 0, error);

        // The seed's stages (its recipe is the default above width 256; this model is 48 wide, so it is named):
        // cross-attention alone in the first epoch, GPT-2 joins in the second; the ViT waits for the third.
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

        // evaluate finds the run's splits beside the checkpoint and takes its test share of the same file.
        (code, output, error) = Captioner("evaluate", "--checkpoint", Path.Combine(run, "last"), "--data", data, "--image-root", images,
            "--out", Path.Combine(dir.Path, "eval"), "--max-tokens", "8", "--device", "cpu");
        Assert.True(code == 0, error);
        Assert.Matches(@"captioning \d+ images \(test\)", output);
        Assert.Matches(@"none of these \d+ images was trained on", output);
        Assert.Contains("exact-match:", output);
        Assert.True(File.Exists(Path.Combine(dir.Path, "eval", "metrics.json")));
    }
}
