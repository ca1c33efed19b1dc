using System.Text.Json.Nodes;
using CaptionService.TestSupport;
using static CaptionService.Hub.Tests.HubTestBed;

namespace CaptionService.Hub.Tests;

public class ErrorTests
{
    private static async Task<HubException> Refused(HubTestBed bed, string reference, HubSettings? settings = null)
    {
        var e = await Assert.ThrowsAsync<HubException>(() => bed.ResolveAsync(reference, settings));
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public async Task A_gated_repository_needs_a_token_with_access()
    {
        await using var bed = await StartAsync(addRepo: false);
        bed.Hub.AddRepo("org/gated", VitGpt2Files.Value, gated: true);
        var page = $"{bed.Hub.Endpoint}org/gated";

        var anonymous = await Refused(bed, "hf:org/gated");
        Assert.Equal(HubErrorKind.Gated, anonymous.Kind);
        Assert.Equal($"hf:org/gated: a gated repository: accept its conditions at {page} and set HF_TOKEN to a token of that account", anonymous.Message);

        var other = await Refused(bed, "hf:org/gated", bed.Settings(token: "hf_someone_else"));
        Assert.Equal($"hf:org/gated: a gated repository, and the token from HF_TOKEN has not been granted access: ask for it at {page}", other.Message);
        Assert.Contains(bed.Hub.Requests, r => r.Status == 403);

        var model = await bed.ResolveAsync("hf:org/gated", bed.Settings(token: FakeHub.GoodToken));
        Assert.True(File.Exists(Path.Combine(model.Directory, Weights)));
    }

    [Fact]
    public async Task Missing_and_private_repositories_revisions_and_files_are_one_line_each()
    {
        await using var bed = await StartAsync();
        bed.Hub.AddRepo("org/private", VitGpt2Files.Value, isPrivate: true);
        bed.Hub.AddRepo("org/no-config", VitGpt2Files.Value.Where(f => f.Name != "config.json"));
        bed.Hub.AddRepo("org/no-weights", VitGpt2Files.Value.Where(f => f.Name != Weights));

        var missing = await Refused(bed, "hf:org/nothing-here");
        Assert.Equal(HubErrorKind.RepositoryNotFound, missing.Kind);
        Assert.Equal($"hf:org/nothing-here: repository not found on 127.0.0.1 (a private repository needs HF_TOKEN set to a token that can read it)", missing.Message);
        Assert.Equal(missing.Message.Replace("nothing-here", "private"), (await Refused(bed, "hf:org/private")).Message); // private looks the same
        var withToken = await Refused(bed, "hf:org/nothing-here", bed.Settings(token: "hf_valid_but_no_access"));
        Assert.Equal("hf:org/nothing-here: repository not found on 127.0.0.1, or the token from HF_TOKEN cannot read it", withToken.Message);
        Assert.True(File.Exists(Path.Combine((await bed.ResolveAsync("hf:org/private", bed.Settings(token: FakeHub.GoodToken))).Directory, Weights)));

        var revision = await Refused(bed, $"hf:{Repo}@v9");
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);
        Assert.Equal($"hf:{Repo}@v9: revision 'v9' not found (give a branch, tag or commit of {bed.Hub.Endpoint}{Repo})", revision.Message);

        var config = await Refused(bed, "hf:org/no-config");
        Assert.Equal(HubErrorKind.FileNotFound, config.Kind);
        Assert.StartsWith("hf:org/no-config: no config.json at commit ", config.Message);
        var weights = await Refused(bed, "hf:org/no-weights");
        Assert.Matches(@"^hf:org/no-weights: no weights file \(model\.safetensors or pytorch_model\.bin\) at commit [0-9a-f]{40}$", weights.Message);

        var badToken = await Refused(bed, $"hf:{Repo}", bed.Settings(token: "not-a-token"));
        Assert.Equal(HubErrorKind.Unauthorized, badToken.Kind);
        Assert.Equal($"hf:{Repo}: 127.0.0.1 refused the token from HF_TOKEN (401: Invalid credentials in Authorization header)", badToken.Message);
    }

    [Fact]
    public async Task Transient_failures_are_retried_and_permanent_ones_are_not()
    {
        await using var bed = await StartAsync();
        bed.Hub.FailNext("/api/models/", 503, times: 2);
        bed.Hub.FailNext("/resolve/", 429, times: 1, retryAfterSeconds: 0);
        bed.Hub.FailNext("/lfs/", 502, times: 1);
        var model = await bed.ResolveAsync($"hf:{Repo}");
        Assert.True(File.Exists(Path.Combine(model.Directory, Weights)));
        Assert.Equal(3, bed.Hub.Requests.Count(r => r.Path.StartsWith("/api/", StringComparison.Ordinal)));

        bed.Hub.FailNext("/api/models/", 500, times: 3);
        var e = await Refused(bed, "hf:tiny/other");
        Assert.Equal(HubErrorKind.Unavailable, e.Kind);
        Assert.Equal("hf:tiny/other: 127.0.0.1 failed 3 times (500 Internal Server Error); check the network or HF_ENDPOINT, " +
            "or set HF_HUB_OFFLINE=1 to use cached models only", e.Message);

        int before = bed.Hub.Requests.Count;
        await Refused(bed, "hf:tiny/absent-repository");
        Assert.Equal(before + 1, bed.Hub.Requests.Count); // a 401/404 is an answer, not a failure to retry
    }

    [Fact]
    public async Task Without_a_network_a_cached_model_is_used_with_a_warning_and_an_uncached_one_fails_in_one_line()
    {
        await using var bed = await StartAsync();
        var cached = await bed.ResolveAsync($"hf:{Repo}");
        var unreachable = bed.Settings() with { Endpoint = new Uri($"http://127.0.0.1:{FreePort()}") };
        var warnings = new List<string>();

        Assert.Equal(cached, await bed.ResolveAsync($"hf:{Repo}", unreachable, warnings: warnings));
        Assert.StartsWith($"hf:{Repo}: 127.0.0.1 failed 3 times (", Assert.Single(warnings));
        Assert.EndsWith($"; using the cached commit {bed.Commit}", warnings[0]);

        var e = await Refused(bed, "hf:tiny/not-cached", unreachable);
        Assert.Equal(HubErrorKind.Unavailable, e.Kind);
    }

    [Fact]
    public async Task Other_models_and_vocabularies_are_refused_before_their_weights_are_downloaded()
    {
        await using var bed = await StartAsync(addRepo: false);
        bed.Hub.AddRepo("Salesforce/blip-image-captioning-base", TinyRepos.Blip());
        var swapped = Gpt2VocabularySwapped();
        bed.Hub.AddRepo("someone/other-vocab", VitGpt2Files.Value.Select(f => f.Name == "vocab.json" ? swapped : f));

        var blip = await Assert.ThrowsAsync<InvalidDataException>(() => bed.ResolveAsync("hf:Salesforce/blip-image-captioning-base"));
        Assert.StartsWith("hf:Salesforce/blip-image-captioning-base: config.json: a blip model (BlipForConditionalGeneration), not a ViT-GPT2 captioner; supported: ", blip.Message);
        Assert.DoesNotContain('\n', blip.Message);
        var vocab = await Assert.ThrowsAsync<InvalidDataException>(() => bed.ResolveAsync("hf:someone/other-vocab"));
        Assert.StartsWith("hf:someone/other-vocab: vocab.json: not GPT-2's vocabulary (50257 tokens, 2 differ", vocab.Message);
        Assert.Equal(0, bed.Hub.RequestsFor(Weights));

        // import-pretrained's sources: a timm ViT and GPT-2.
        bed.Hub.AddRepo("timm/tiny-vit", TinyRepos.TimmVit());
        bed.Hub.AddRepo("openai-community/gpt2", TinyRepos.Gpt2());
        var notGpt2 = await Assert.ThrowsAsync<InvalidDataException>(() => bed.ResolveAsync("hf:timm/tiny-vit", purpose: ModelPurpose.Gpt2));
        Assert.Equal("hf:timm/tiny-vit: config.json: no model_type, not GPT-2 (like openai-community/gpt2)", notGpt2.Message);
        var notTimm = await Assert.ThrowsAsync<InvalidDataException>(() => bed.ResolveAsync("hf:openai-community/gpt2", purpose: ModelPurpose.TimmVit));
        Assert.StartsWith("hf:openai-community/gpt2: config.json: a Hugging Face gpt2 model, not a timm ViT", notTimm.Message);
        Assert.True(File.Exists(Path.Combine((await bed.ResolveAsync("hf:timm/tiny-vit", purpose: ModelPurpose.TimmVit)).Directory, Weights)));
        Assert.True(File.Exists(Path.Combine((await bed.ResolveAsync("hf:openai-community/gpt2", purpose: ModelPurpose.Gpt2)).Directory, "vocab.json")));
    }

    private static HubFile Gpt2VocabularySwapped()
    {
        var vocab = new JsonObject();
        foreach (var (token, id) in CaptionService.Model.Text.Gpt2Vocabulary.Tokens) vocab[token] = id;
        (vocab["Ġcat"], vocab["Ġdog"]) = (3290, 3797);
        return HubFile.FromText("vocab.json", vocab.ToJsonString());
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
