using System.Net;
using System.Text.Json;

namespace CaptionService.Api.Tests;

[Collection(ApiCollection.Name)]
public class CaptionEndpointTests(ApiFixture api)
{
    private static readonly byte[] Picture = Images.Png(40, 30);

    private async Task<JsonElement> Caption(byte[] image, params (string, string)[] fields)
    {
        var response = await api.Client.PostAsync("/captions", Http.Form(image, fields));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task A_png_gets_a_caption_with_the_options_used_the_model_and_timings()
    {
        var answer = await Caption(Picture);

        Assert.Equal(JsonValueKind.String, answer.GetProperty("caption").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(answer.GetProperty("caption").GetString()));
        Assert.Equal("demo-shapes", answer.GetProperty("model").GetProperty("id").GetString());

        // No fields: the checkpoint's defaults (Presets.Small: greedy, 24 tokens).
        var decoding = answer.GetProperty("decoding");
        Assert.Equal("greedy", decoding.GetProperty("strategy").GetString());
        Assert.Equal(24, decoding.GetProperty("max_tokens").GetInt32());
        Assert.False(decoding.TryGetProperty("temperature", out _));

        var timings = answer.GetProperty("timings_ms");
        double[] parts = new[] { "queue", "preprocess", "encode", "decode" }.Select(p => timings.GetProperty(p).GetDouble()).ToArray();
        double total = timings.GetProperty("total").GetDouble();
        Assert.True(parts.All(t => t >= 0) && parts[2] > 0 && parts[3] > 0, timings.ToString());
        Assert.True(total >= parts.Sum() - 0.05, timings.ToString());
    }

    [Fact]
    public async Task Greedy_gives_the_same_caption_twice()
    {
        var first = await Caption(Picture, ("decoding", "greedy"));
        var second = await Caption(Picture, ("decoding", "greedy"));
        Assert.Equal(first.GetProperty("caption").GetString(), second.GetProperty("caption").GetString());
    }

    [Fact]
    public async Task Sampling_with_a_seed_reproduces_and_reports_its_options()
    {
        (string, string)[] fields = [("decoding", "sample"), ("seed", "1234"), ("temperature", "1.5"), ("top_k", "50"), ("top_p", "0.9"), ("max_tokens", "8")];
        var first = await Caption(Picture, fields);
        var second = await Caption(Picture, fields);

        Assert.Equal(first.GetProperty("caption").GetString(), second.GetProperty("caption").GetString());
        var decoding = first.GetProperty("decoding");
        Assert.Equal("sample", decoding.GetProperty("strategy").GetString());
        Assert.Equal(1234, decoding.GetProperty("seed").GetInt64());
        Assert.Equal(1.5, decoding.GetProperty("temperature").GetDouble());
        Assert.Equal(50, decoding.GetProperty("top_k").GetInt32());
        Assert.Equal(0.9, decoding.GetProperty("top_p").GetDouble());
        Assert.Equal(8, decoding.GetProperty("max_tokens").GetInt32());
        Assert.False(decoding.TryGetProperty("num_beams", out _));
    }

    [Fact]
    public async Task Sampling_without_a_seed_reports_the_drawn_seed_which_reproduces_the_caption()
    {
        var first = await Caption(Picture, ("decoding", "sample"), ("max_tokens", "8"));
        var seed = first.GetProperty("decoding").GetProperty("seed").GetInt64();

        var again = await Caption(Picture, ("decoding", "sample"), ("max_tokens", "8"), ("seed", seed.ToString()));
        Assert.Equal(first.GetProperty("caption").GetString(), again.GetProperty("caption").GetString());
    }

    [Fact]
    public async Task Beam_search_answers_with_its_options()
    {
        var answer = await Caption(Picture, ("decoding", "beam"), ("num_beams", "2"), ("length_penalty", "0.8"), ("no_repeat_ngram_size", "2"), ("max_tokens", "6"));

        Assert.Equal(JsonValueKind.String, answer.GetProperty("caption").ValueKind);
        var decoding = answer.GetProperty("decoding");
        Assert.Equal("beam", decoding.GetProperty("strategy").GetString());
        Assert.Equal(2, decoding.GetProperty("num_beams").GetInt32());
        Assert.Equal(0.8, decoding.GetProperty("length_penalty").GetDouble());
        Assert.Equal(2, decoding.GetProperty("no_repeat_ngram_size").GetInt32());
        Assert.Equal(6, decoding.GetProperty("max_tokens").GetInt32());
        Assert.False(decoding.TryGetProperty("seed", out _));

        var again = await Caption(Picture, ("decoding", "BEAM"), ("num_beams", "2"), ("length_penalty", "0.8"), ("no_repeat_ngram_size", "2"), ("max_tokens", "6"));
        Assert.Equal(answer.GetProperty("caption").GetString(), again.GetProperty("caption").GetString());
    }

    [Fact]
    public async Task Max_tokens_over_what_the_service_allows_is_400_naming_the_limit()
    {
        // Captioner:Batching:MaxTokens is 64, the tiny model has 64 positions, one for the start token: 63.
        var response = await api.Client.PostAsync("/captions", Http.Form(Picture, ("max_tokens", "1000")));
        await Http.AssertProblem(response, HttpStatusCode.BadRequest, "max_tokens must be at most 63");
        var answer = await Caption(Picture, ("max_tokens", "63"), ("decoding", "beam"), ("num_beams", "2"));
        Assert.Equal(63, answer.GetProperty("decoding").GetProperty("max_tokens").GetInt32());
    }

    [Fact]
    public async Task Concurrent_requests_are_all_answered_alike()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Caption(Picture, ("max_tokens", "10"))));
        Assert.Single(answers.Select(a => a.GetProperty("caption").GetString()).Distinct());
    }
}
