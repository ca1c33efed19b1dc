using System.Net;

namespace CaptionService.Api.Tests;

/// <summary>The optional API key and per-client rate limit (both off by default: the other tests run without them).</summary>
public class AccessTests
{
    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs) =>
        pairs.Prepend(("Device", "cpu")).ToDictionary(p => "Captioner:" + p.Item1, p => (string?)p.Item2);

    [Fact]
    public async Task With_an_api_key_configured_captions_need_it_and_health_does_not()
    {
        await using var factory = new ApiFactory(Settings(("ApiKey", "s3cret-key")));
        var client = await factory.ReadyClientAsync(); // /health/ready answers without a key

        var problem = await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Images.Png(16, 16))), HttpStatusCode.Unauthorized, "X-Api-Key");
        Assert.Equal("API key required", problem.GetProperty("title").GetString());

        var wrong = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(Images.Png(16, 16)) };
        wrong.Headers.Add("X-Api-Key", "s3cret-kez");
        await Http.AssertProblem(await client.SendAsync(wrong), HttpStatusCode.Unauthorized, "does not hold");

        var right = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(Images.Png(16, 16)) };
        right.Headers.Add("X-Api-Key", "s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(right)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/model")).StatusCode);
    }

    [Fact]
    public async Task Over_the_rate_limit_a_client_gets_429_with_retry_after_and_others_do_not()
    {
        await using var factory = new ApiFactory(Settings(("RateLimitPerMinute", "2")));
        var client = await factory.ReadyClientAsync();
        async Task<HttpResponseMessage> Send(string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(Images.Png(16, 16), ("max_tokens", "2")) };
            request.Headers.Add("X-Api-Key", key);
            return await client.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.OK, (await Send("alice")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send("alice")).StatusCode);
        var refused = await Send("alice");
        var problem = await Http.AssertProblem(refused, HttpStatusCode.TooManyRequests, "2 caption requests per minute");
        Assert.Equal("rate-limited", problem.GetProperty("reason").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal(HttpStatusCode.OK, (await Send("bob")).StatusCode);
    }

    [Fact]
    public async Task More_beams_than_the_batch_holds_is_400_naming_num_beams()
    {
        await using var factory = new ApiFactory(Settings(("Batching:MaxBatchSize", "4")));
        var client = await factory.ReadyClientAsync();
        await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Images.Png(16, 16), ("decoding", "beam"), ("num_beams", "5"))),
            HttpStatusCode.BadRequest, "num_beams must be at most 4");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/captions", Http.Form(Images.Png(16, 16), ("decoding", "beam"), ("num_beams", "4")))).StatusCode);
    }
}
