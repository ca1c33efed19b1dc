using System.Net;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Model;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using CaptionService.TestSupport;

namespace CaptionService.Api.Tests;

/// <summary>The service with Captioner:Checkpoint=hf:...: a fake Hub on loopback, the cache in a temporary folder.</summary>
public sealed class HubModelTests : IAsyncLifetime
{
    private const string Repo = "tiny/vit-gpt2";
    private const string Weights = "model.safetensors";
    private FakeHub hub = null!;
    private string commit = "";
    private readonly string cache = Directory.CreateTempSubdirectory("api-hub-cache-").FullName;

    public async Task InitializeAsync()
    {
        hub = await FakeHub.StartAsync();
        commit = hub.AddRepo(Repo, TinyRepos.VitGpt2(seed: 1, generation: new() { ["max_length"] = 8, ["num_beams"] = 2 }));
    }

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        Directory.Delete(cache, recursive: true);
    }

    private ApiFactory Service(string reference = $"hf:{Repo}") => new(new Dictionary<string, string?>
    {
        ["Captioner:Checkpoint"] = reference,
        ["Captioner:Device"] = "cpu",
        ["HF_ENDPOINT"] = hub.Endpoint.ToString(),
        ["HF_HUB_CACHE"] = cache,
    });

    [Fact]
    public async Task The_service_downloads_an_hf_model_says_so_while_it_does_becomes_ready_and_captions_with_it()
    {
        var hold = hub.HoldNext(Weights, 1 << 20);
        using var factory = Service();
        var client = factory.CreateClient();
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(60));

        // Listening already, not ready yet: /health/ready says how far the download is, captions get a 503 that says it too.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var reason = (await Http.Json(ready)).GetProperty("checks").GetProperty("model").GetProperty("description").GetString()!;
        Assert.Matches(@"^downloading model \d+% \(\d+\.\d of \d+\.\d MB", reason);
        await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Images.Png(16, 16))), HttpStatusCode.ServiceUnavailable, "downloading model");
        hold.Release();

        client = await factory.ReadyClientAsync();
        var info = await Http.Json(await client.GetAsync("/model"));
        Assert.Equal(Repo, info.GetProperty("id").GetString());
        Assert.Equal(commit, info.GetProperty("hub").GetProperty("commit").GetString());
        Assert.Equal("main", info.GetProperty("hub").GetProperty("revision").GetString());
        Assert.False(info.GetProperty("built_in").GetBoolean());
        Assert.False(info.TryGetProperty("notice", out _));
        var decoding = info.GetProperty("config").GetProperty("decoding");
        Assert.Equal(("beam", 2, 7), (decoding.GetProperty("strategy").GetString(), decoding.GetProperty("num_beams").GetInt32(),
            decoding.GetProperty("max_new_tokens").GetInt32())); // generation_config.json: max_length 8 counts the start token

        var image = Images.Png(32, 32);
        var answer = await Http.Json(await client.PostAsync("/captions", Http.Form(image, ("decoding", "greedy"))));
        Assert.Equal(Repo, answer.GetProperty("model").GetProperty("id").GetString());
        Assert.False(answer.GetProperty("model").TryGetProperty("notice", out _));
        using var original = TinyRepos.VitGpt2Model(seed: 1);
        var expected = new CaptionPipeline(original).Caption([image], original.Config.Decoding with { MaxNewTokens = 7 })[0];
        Assert.Equal(expected.Text, answer.GetProperty("caption").GetString());

        var swagger = await Http.Json(await client.GetAsync("/swagger/v1/swagger.json"));
        Assert.Contains($"serving hf:{Repo}, from the Hugging Face Hub.", swagger.GetProperty("info").GetProperty("description").GetString());
    }

    [Fact]
    public async Task A_second_start_uses_the_cache_and_the_converted_weights_and_a_pinned_commit_needs_no_hub_at_all()
    {
        using (var first = Service())
            await first.ReadyClientAsync();
        Assert.Equal(1, hub.TransfersOf(Weights));
        // Converted once, kept beside huggingface_hub's files of that commit; later starts load it.
        var converted = Path.Combine(cache, "models--tiny--vit-gpt2", "captionservice", commit, Weights);
        Assert.True(File.Exists(converted));
        var written = File.GetLastWriteTimeUtc(converted);

        using (var second = Service())
            await second.ReadyClientAsync();
        Assert.Equal(1, hub.TransfersOf(Weights));
        Assert.Equal(written, File.GetLastWriteTimeUtc(converted));

        int before = hub.Requests.Count;
        using var pinned = Service($"hf:{Repo}@{commit}");
        var client = await pinned.ReadyClientAsync();
        Assert.Equal(before, hub.Requests.Count);
        Assert.Equal(commit, (await Http.Json(await client.GetAsync("/model"))).GetProperty("hub").GetProperty("revision").GetString());
    }

    [Fact]
    public async Task A_model_that_is_not_a_vit_gpt2_fails_the_load_in_one_line_with_no_weights_fetched()
    {
        hub.AddRepo("Salesforce/blip-image-captioning-base", TinyRepos.Blip());
        var options = Microsoft.Extensions.Options.Options.Create(new CaptionerOptions { Checkpoint = "hf:Salesforce/blip-image-captioning-base", Device = "cpu" });
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["HF_ENDPOINT"] = hub.Endpoint.ToString(),
            ["HF_HUB_CACHE"] = cache,
        }).Build();
        using var host = new ModelHost(options, NullLogger<ModelHost>.Instance, configuration);

        var e = await Assert.ThrowsAsync<InvalidDataException>(() => host.LoadAsync(CancellationToken.None));

        Assert.StartsWith("hf:Salesforce/blip-image-captioning-base: config.json: a blip model (BlipForConditionalGeneration), not a ViT-GPT2 captioner; supported: ", e.Message);
        Assert.Equal("failed: " + e.Message, host.State);
        Assert.Equal(0, hub.RequestsFor(Weights));
    }
}
