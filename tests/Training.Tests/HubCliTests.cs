using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.TestSupport;
using CaptionService.Training.Cli;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

/// <summary><c>captioner</c> with hf: references, against a fake Hub on loopback.</summary>
public sealed class HubCliTests : IAsyncLifetime
{
    private const string Repo = "tiny/vit-gpt2";
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-hub-").FullName;
    private FakeHub hub = null!;
    private string commit = "";
    private Dictionary<string, string> environment = [];

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        commit = hub.AddRepo(Repo, TinyRepos.VitGpt2(seed: 1));
        hub.AddRepo("timm/tiny-vit", TinyRepos.TimmVit());
        hub.AddRepo("openai-community/gpt2", TinyRepos.Gpt2());
        hub.AddRepo("org/gated", TinyRepos.VitGpt2(seed: 1), gated: true);
        environment = new() { ["HF_ENDPOINT"] = hub.Endpoint.ToString(), ["HF_HUB_CACHE"] = Path.Combine(dir, "cache") };
    }

    /// <summary>captioner in-process, its Hub settings from <see cref="environment"/> (not the process's).</summary>
    private (int Code, string Out, string Err) Captioner(params string[] args)
    {
        HubModels.Environment.Value = name => environment.GetValueOrDefault(name);
        return Run(args);
    }

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }

    private string Png()
    {
        var path = Path.Combine(dir, "photo.png");
        using var image = new Image<Rgb24>(40, 30, new Rgb24(30, 160, 90));
        image.SaveAsPng(path);
        return path;
    }

    [Fact]
    public void Caption_and_inspect_take_an_hf_reference_with_progress_on_stderr_and_offline_afterwards()
    {
        var image = Png();
        var (code, output, error) = Captioner("caption", "--checkpoint", $"hf:{Repo}", image, "--max-tokens", "6");
        Assert.True(code == 0, error);
        using var original = TinyRepos.VitGpt2Model(seed: 1);
        var expected = new CaptionPipeline(original).Caption([File.ReadAllBytes(image)], original.Config.Decoding with { MaxNewTokens = 6 })[0];
        Assert.Equal(expected.Text, output.Trim());
        Assert.Contains($"downloading {Repo}: model.safetensors 100% (", error); // plain lines: stderr is not a terminal here

        environment["HF_HUB_OFFLINE"] = "1";
        int before = hub.Requests.Count;
        var inspected = Lines(Captioner("inspect", "--checkpoint", $"hf:{Repo}").Out);
        Assert.StartsWith($"hf:{Repo}@{commit} (", inspected["source"]);
        Assert.Equal("hf-vit", inspected["encoder_layout"]);
        Assert.Equal(before, hub.Requests.Count);
    }

    [Fact]
    public void Import_pretrained_takes_hf_sources()
    {
        var fromHf = Path.Combine(dir, "vit-gpt2");
        var (code, output, error) = Captioner("import-pretrained", "hf", "--source", $"hf:{Repo}", "--out", fromHf);
        Assert.True(code == 0, error);
        Assert.Contains("decoding defaults from config.json: greedy, at most 19 new tokens", output);
        using (var imported = Checkpoint.Load(fromHf))
        using (var original = TinyRepos.VitGpt2Model(seed: 1))
            Assert.True(ImportPlan.TensorsOf(original)["decoder.transformer.wte.weight"].equal(ImportPlan.TensorsOf(imported)["decoder.transformer.wte.weight"]).all().item<bool>());

        var seed = Path.Combine(dir, "seed");
        (code, output, error) = Captioner("import-pretrained", "timm-gpt2", "--vit", "hf:timm/tiny-vit", "--gpt2", "hf:openai-community/gpt2", "--out", seed);
        Assert.True(code == 0, error);
        Assert.Contains($"wrote {seed}", output);
        using var model = Checkpoint.Load(seed);
        Assert.Equal((48, 1, 50257), (model.Config.EncoderWidth, model.Config.EncoderLayers, model.Config.VocabSize));
    }

    [Fact]
    public void Bad_references_and_refusals_are_one_line_with_exit_code_2()
    {
        var (code, _, error) = Captioner("caption", "--checkpoint", "hf:gpt2", Png());
        Assert.Equal(2, code);
        Assert.Equal("error: 'hf:gpt2': give the owner and the name of the repository: hf:OWNER/NAME or hf:OWNER/NAME@REVISION " +
            "(e.g. hf:nlpconnect/vit-gpt2-image-captioning)", error.Trim());

        (code, _, error) = Captioner("inspect", "--checkpoint", "hf:org/gated");
        Assert.Equal(2, code);
        Assert.Equal($"error: hf:org/gated: a gated repository: accept its conditions at {hub.Endpoint}org/gated and set HF_TOKEN to a token of that account", error.Trim());

        environment["HF_TOKEN"] = FakeHub.GoodToken;
        Assert.Equal(0, Captioner("inspect", "--checkpoint", "hf:org/gated").Code);

        (code, _, error) = Captioner("import-pretrained", "timm-gpt2", "--vit", "hf:openai-community/gpt2", "--gpt2", "hf:openai-community/gpt2", "--out", Path.Combine(dir, "x"));
        Assert.Equal(2, code);
        // After the progress lines of the small files it read, the refusal (the weights were never fetched).
        Assert.StartsWith("error: hf:openai-community/gpt2: config.json: a Hugging Face gpt2 model, not a timm ViT", error.Trim().Split('\n')[^1]);
        Assert.DoesNotContain("model.safetensors", error);
    }

    [Fact]
    public async Task Two_captioner_processes_pulling_one_model_into_one_cache_download_it_once_and_both_caption()
    {
        var image = Png();
        var weights = "model.safetensors";
        var hold = hub.HoldNext(weights, 1000); // the first process holds the blob's lock mid-transfer
        var first = StartCaptioner(image);
        await hold.Reached.WaitAsync(TimeSpan.FromMinutes(2));
        var second = StartCaptioner(image); // a separate process: its own lock on huggingface_hub's lock file
        await Task.Delay(1500);
        Assert.False(second.HasExited, "the second process finished while the first still held the weights");
        hold.Release();

        var results = await Task.WhenAll(Finish(first), Finish(second));
        using var original = TinyRepos.VitGpt2Model(seed: 1);
        var expected = new CaptionPipeline(original).Caption([File.ReadAllBytes(image)], original.Config.Decoding with { MaxNewTokens = 6 })[0].Text;
        Assert.All(results, r => Assert.True(r.Code == 0 && r.Out.Trim() == expected, $"exit {r.Code}: {r.Out}{r.Err}"));
        Assert.Equal(1, hub.TransfersOf(weights));
        var blobs = Directory.GetFiles(Path.Combine(dir, "cache", "models--tiny--vit-gpt2", "blobs"));
        Assert.DoesNotContain(blobs, b => b.EndsWith(".incomplete", StringComparison.Ordinal));
    }

    private System.Diagnostics.Process StartCaptioner(string image)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "captioner.dll"), "caption", "--checkpoint", $"hf:{Repo}", image, "--max-tokens", "6" })
            start.ArgumentList.Add(a);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        return System.Diagnostics.Process.Start(start)!;
    }

    private static async Task<(int Code, string Out, string Err)> Finish(System.Diagnostics.Process process)
    {
        using (process)
        {
            var (output, error) = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output, await error);
        }
    }
}
