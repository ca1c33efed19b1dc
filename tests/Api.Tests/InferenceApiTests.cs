using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CaptionService.Api.Tests;

/// <summary>The Hugging Face Inference API's image-to-text task (POST / and POST /models/{id}): the
/// same captions as POST /captions, raw and JSON bodies, and every way a client can get it wrong.</summary>
[Collection(ApiCollection.Name)]
public class InferenceApiTests(ApiFixture api)
{
    private static readonly byte[] Picture = Images.Png(40, 30);

    private static ByteArrayContent Raw(byte[] bytes, string type = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private async Task<string> Caption(params (string Name, string Value)[] fields)
    {
        var response = await api.Client.PostAsync("/captions", Http.Form(Picture, fields));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await Http.Json(response)).GetProperty("caption").GetString()!;
    }

    private static async Task<string> GeneratedText(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        Assert.Equal(["generated_text"], body.EnumerateObject().Select(p => p.Name));
        return body.GetProperty("generated_text").GetString()!;
    }

    /// <summary>A problem as these routes answer it: problem+json, with <c>error</c> (what the HF clients show) equal to <c>detail</c>.</summary>
    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status, params string[] detailContains)
    {
        var problem = await Http.AssertProblem(response, status, detailContains);
        Assert.Equal(problem.GetProperty("detail").GetString(), problem.GetProperty("error").GetString());
        return problem;
    }

    [Fact]
    public async Task A_raw_image_body_is_captioned_as_by_post_captions_at_the_root_and_at_the_served_model_id()
    {
        var expected = await Caption();
        Assert.Equal(expected, await GeneratedText(await api.Client.PostAsync("/", Raw(Picture))));
        Assert.Equal(expected, await GeneratedText(await api.Client.PostAsync("/models/demo-shapes", Raw(Picture))));
        Assert.Equal(expected, await GeneratedText(await api.Client.PostAsync("/", Raw(Picture, "application/octet-stream"))));
        var untyped = new ByteArrayContent(Picture); // a client that names no type: the bytes say what they are
        Assert.Equal(expected, await GeneratedText(await api.Client.PostAsync("/", untyped)));
        // The page is still there for people.
        Assert.Equal("text/html", (await api.Client.GetAsync("/")).Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_json_form_takes_base64_and_the_tasks_parameters_flat_or_nested()
    {
        var base64 = Convert.ToBase64String(Picture);
        Assert.Equal(await Caption(("max_tokens", "3")),
            await GeneratedText(await api.Client.PostAsync("/", Json(new { inputs = base64, parameters = new { max_new_tokens = 3 } }))));
        Assert.Equal(await Caption(("decoding", "sample"), ("seed", "7"), ("temperature", "1.5"), ("top_k", "5")),
            await GeneratedText(await api.Client.PostAsync("/models/demo-shapes", Json(new
            {
                inputs = "data:image/png;base64," + base64,
                parameters = new { generation_parameters = new { do_sample = true, seed = 7, temperature = 1.5, top_k = 5 } },
            }))));
        Assert.Equal(await Caption(("decoding", "beam"), ("num_beams", "2")),
            await GeneratedText(await api.Client.PostAsync("/", Json(new { inputs = base64, parameters = new { num_beams = 2 } }))));
        Assert.Equal(await Caption(),
            await GeneratedText(await api.Client.PostAsync("/", Json(new { inputs = base64, parameters = (object?)null }))));
    }

    [Fact]
    public async Task Another_model_id_is_404_naming_the_one_served()
    {
        var problem = await AssertProblem(await api.Client.PostAsync("/models/nlpconnect/vit-gpt2-image-captioning", Raw(Picture)),
            HttpStatusCode.NotFound, "serves 'demo-shapes'", "nlpconnect/vit-gpt2-image-captioning");
        Assert.Equal("unknown-model", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Bad_base64_bad_json_and_unknown_or_mistyped_parameters_are_400_naming_the_member()
    {
        var base64 = Convert.ToBase64String(Picture);
        async Task Bad(HttpContent body, string member, params string[] detail)
        {
            var problem = await AssertProblem(await api.Client.PostAsync("/", body), HttpStatusCode.BadRequest, detail);
            Assert.True(problem.GetProperty("errors").TryGetProperty(member, out _), problem.ToString());
        }
        await Bad(Json(new { inputs = "not base64 at all!" }), "inputs", "not valid base64");
        await Bad(Json(new { inputs = "https://example.com/cat.jpg" }), "inputs", "fetches nothing");
        await Bad(Json(new { image = base64 }), "image", "Unknown member 'image'");
        await Bad(Json(new { parameters = new { } }), "inputs", "'inputs' is required");
        await Bad(Json(new { inputs = 12 }), "inputs", "base64 string");
        await Bad(Json(new[] { base64 }), "inputs", "must be a JSON object");
        await Bad(new StringContent("{\"inputs\": \"abc", Encoding.UTF8, "application/json"), "inputs", "not valid JSON");
        await Bad(Json(new { inputs = base64, parameters = new { max_length = 5 } }), "parameters.max_length", "Unknown parameter 'max_length'", "max_new_tokens");
        await Bad(Json(new { inputs = base64, parameters = new { max_new_tokens = "5" } }), "parameters.max_new_tokens", "must be a number");
        await Bad(Json(new { inputs = base64, parameters = new { do_sample = 1 } }), "parameters.do_sample", "true or false");
        await Bad(Json(new { inputs = base64, parameters = new { max_new_tokens = 100_000 } }), "parameters.max_new_tokens", "parameters.max_new_tokens must be at most");
        await Bad(Json(new { inputs = base64, parameters = new { do_sample = true, temperature = -1 } }), "parameters.temperature", "temperature");
        await Bad(Json(new { inputs = base64, parameters = new { do_sample = true, num_beams = 3 } }), "parameters.num_beams", "Sampling with beams");
        await Bad(Json(new { inputs = base64, parameters = "fast" }), "parameters", "must be a JSON object");
        // Bytes that are base64 but not an image: the image checks of POST /captions.
        await AssertProblem(await api.Client.PostAsync("/", Json(new { inputs = Convert.ToBase64String(Images.TruncatedPng()) })), HttpStatusCode.BadRequest, "damaged or truncated");
        await AssertProblem(await api.Client.PostAsync("/", Raw([])), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Images_over_the_limit_raw_or_base64_are_413_and_other_media_types_415()
    {
        var huge = new byte[ApiFixture.MaxUploadBytes + 1];
        new Random(3).NextBytes(huge);
        var problem = await AssertProblem(await api.Client.PostAsync("/", Raw(huge)), HttpStatusCode.RequestEntityTooLarge, $"{ApiFixture.MaxUploadBytes:N0}");
        Assert.Equal("too-large", problem.GetProperty("reason").GetString());
        await AssertProblem(await api.Client.PostAsync("/", Json(new { inputs = Convert.ToBase64String(huge) })), HttpStatusCode.RequestEntityTooLarge, $"{ApiFixture.MaxUploadBytes:N0}");
        // Far over: refused by its declared length, before it is read.
        await AssertProblem(await api.Client.PostAsync("/", Json(new { inputs = Convert.ToBase64String(new byte[4 * ApiFixture.MaxUploadBytes]) })),
            HttpStatusCode.RequestEntityTooLarge, "one image of at most");

        await AssertProblem(await api.Client.PostAsync("/", new StringContent("a cat", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType, "text/plain", "application/json");
        await AssertProblem(await api.Client.PostAsync("/", Http.Form(Picture)), HttpStatusCode.UnsupportedMediaType, "POST /captions takes multipart/form-data");
    }
}

/// <summary>The Hugging Face routes with API keys and under load: the key as Authorization: Bearer
/// (what those clients send) or X-Api-Key, and 429 rather than 503 when the queue is full.</summary>
public class InferenceAccessTests
{
    private const string Key = "alpha-key-0123456789";

    private static HttpRequestMessage Post(string path, string? bearer = null, string? key = null)
    {
        var content = new ByteArrayContent(Images.Png(16, 16));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return request;
    }

    [Fact]
    public async Task With_api_keys_the_routes_take_a_bearer_token_or_x_api_key_and_a_wrong_one_is_401_with_error()
    {
        await using var factory = new ApiFactory(new Dictionary<string, string?> { ["Captioner:Device"] = "cpu", ["Captioner:ApiKeys:0"] = Key });
        var client = await factory.ReadyClientAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Post("/", bearer: Key))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Post("/models/demo-shapes", key: Key))).StatusCode);
        var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(Images.Png(16, 16)) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);

        foreach (var refused in new[] { Post("/"), Post("/", bearer: "hf_wrong0123456789abcdef"), Post("/models/demo-shapes", key: Key + "x") })
        {
            var response = await client.SendAsync(refused);
            var problem = await Http.AssertProblem(response, HttpStatusCode.Unauthorized);
            Assert.Contains("API key", problem.GetProperty("error").GetString());
        }
        // A wrong id is only told which model is served once the key is right.
        await Http.AssertProblem(await client.SendAsync(Post("/models/other/model")), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_full_queue_is_429_with_retry_after_on_these_routes_and_still_503_on_post_captions()
    {
        // A lone request waits up to MaxWaitMs in the queue for company: meanwhile the queue (1 place) is full.
        await using var host = new ObservedHost(("Batching:QueueCapacity", "1"), ("Batching:MaxBatchSize", "2"), ("Batching:MaxWaitMs", "3000"));
        var client = await host.ReadyClientAsync();
        var first = client.SendAsync(Post("/"));
        await host.WaitUntil(() => host.Scheduler.QueueDepth == 1, "the first request to be queued");

        var refused = await client.SendAsync(Post("/"));
        var problem = await Http.AssertProblem(refused, HttpStatusCode.TooManyRequests, "queue");
        Assert.Equal("queue-full", problem.GetProperty("reason").GetString());
        Assert.Contains("queue", problem.GetProperty("error").GetString());
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Images.Png(16, 16))), HttpStatusCode.ServiceUnavailable, "queue");

        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        // Both refusals are counted (at least: another test's host in this process may count one too).
        Assert.True(host.Count("captioner.requests", "outcome", "queue-full") >= 2, host.Outcomes());
    }
}
