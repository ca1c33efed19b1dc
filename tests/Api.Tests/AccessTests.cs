using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace CaptionService.Api.Tests;

/// <summary>API keys, the throttle on failed keys, the per-client rate limit and forwarded addresses
/// (all off by default: the other tests run without them), tried the way an attacker would.</summary>
public class AccessTests
{
    private const string KeyA = "alpha-key-0123456789", KeyB = "bravo-key-0123456789";

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] pairs) =>
        pairs.Prepend(("Device", "cpu")).ToDictionary(p => "Captioner:" + p.Item1, p => (string?)p.Item2);

    private static HttpRequestMessage Caption(string? key = null, string? forwardedFor = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(Images.Png(16, 16), ("max_tokens", "2")) };
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        if (forwardedFor is not null) request.Headers.Add("X-Forwarded-For", forwardedFor);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static HttpRequestMessage Get(string path, string? key = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    [Fact]
    public async Task With_api_keys_captions_model_and_metrics_need_one_of_them_and_health_and_the_page_do_not()
    {
        await using var factory = new ApiFactory(Settings(("ApiKeys:0", KeyA), ("ApiKeys:1", KeyB)));
        var client = await factory.ReadyClientAsync(); // /health/ready answers without a key
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);

        var problem = await Http.AssertProblem(await client.SendAsync(Caption()), HttpStatusCode.Unauthorized, "X-Api-Key");
        Assert.Equal("API key required", problem.GetProperty("title").GetString());
        await Http.AssertProblem(await client.SendAsync(Caption(key: KeyA[..^1] + "X")), HttpStatusCode.Unauthorized, "does not hold");

        // Either key (a rotation keeps the old one for a while), in either header.
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyA))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyB))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(bearer: KeyB))).StatusCode);

        foreach (var path in new[] { "/model", "/metrics" })
        {
            await Http.AssertProblem(await client.SendAsync(Get(path)), HttpStatusCode.Unauthorized, "API key");
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(path, key: KeyA))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get(path, bearer: KeyB))).StatusCode);
        }
    }

    [Fact]
    public async Task Guessing_keys_is_throttled_per_address_and_then_even_the_right_key_waits()
    {
        await using var factory = new ApiFactory(Settings(("ApiKeys:0", KeyA), ("AuthFailuresPerMinute", "3"), ("TrustedProxies:0", "127.0.0.1")));
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();
        const string attacker = "203.0.113.7", bystander = "198.51.100.20";

        for (int i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Caption(key: $"guess-{i}-0123456789", forwardedFor: attacker))).StatusCode);
        var throttled = await client.SendAsync(Caption(key: "guess-4-0123456789", forwardedFor: attacker));
        var problem = await Http.AssertProblem(throttled, HttpStatusCode.TooManyRequests, "without a valid API key");
        Assert.Equal("auth-throttled", problem.GetProperty("reason").GetString());
        Assert.True(int.Parse(throttled.Headers.GetValues("Retry-After").Single()) >= 1);
        // A right guess now looks the same as a wrong one: guessing gets no answer for a while.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Caption(key: KeyA, forwardedFor: attacker))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Caption(forwardedFor: attacker))).StatusCode);

        // Other client addresses are not affected: another one behind the proxy, and the proxy's own.
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyA, forwardedFor: bystander))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get("/model", key: KeyA))).StatusCode);
    }

    [Fact]
    public async Task Without_keys_the_rate_limit_is_per_address_and_a_new_header_value_per_request_does_not_escape_it()
    {
        await using var factory = new ApiFactory(Settings(("RateLimitPerMinute", "2")));
        var client = await factory.ReadyClientAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: "one"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: "two"))).StatusCode);
        for (int i = 0; i < 5; i++)
        {
            var refused = await client.SendAsync(Caption(key: $"fresh-{i}", bearer: $"other-{i}"));
            var problem = await Http.AssertProblem(refused, HttpStatusCode.TooManyRequests, "2 caption requests per minute");
            Assert.Equal("rate-limited", problem.GetProperty("reason").GetString());
            Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        }
    }

    [Fact]
    public async Task With_keys_the_rate_limit_is_per_valid_key()
    {
        await using var factory = new ApiFactory(Settings(("ApiKeys:0", KeyA), ("ApiKeys:1", KeyB), ("RateLimitPerMinute", "2")));
        var client = await factory.ReadyClientAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyA))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(bearer: KeyA))).StatusCode);
        await Http.AssertProblem(await client.SendAsync(Caption(key: KeyA)), HttpStatusCode.TooManyRequests, "per minute");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyB))).StatusCode);
        // Wrong keys are refused before the rate limit: they do not spend a key's budget.
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Caption(key: "not-a-key-0123456789"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyB))).StatusCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task X_Forwarded_For_counts_only_through_a_trusted_proxy(bool trusted)
    {
        var settings = Settings(("RateLimitPerMinute", "1"));
        if (trusted) settings["Captioner:TrustedProxies:0"] = "127.0.0.0/8";
        await using var factory = new ApiFactory(settings);
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();

        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(forwardedFor: "192.0.2.1"))).StatusCode);
        var second = await client.SendAsync(Caption(forwardedFor: "192.0.2.2"));
        // Untrusted: the header is ignored, both requests come from 127.0.0.1. Trusted: two clients.
        Assert.Equal(trusted ? HttpStatusCode.OK : HttpStatusCode.TooManyRequests, second.StatusCode);
        if (!trusted) return;
        // Through the proxy, a client cannot pick its address by writing one in front of the proxy's:
        // the proxy appends the address it saw (192.0.2.1), and that is the one used.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Caption(forwardedFor: "192.0.2.99, 192.0.2.1"))).StatusCode);
    }

    [Fact]
    public async Task Refusals_come_before_the_body_is_read()
    {
        await using var factory = new ApiFactory(Settings(("ApiKeys:0", KeyA), ("RateLimitPerMinute", "1")));
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();
        var server = client.BaseAddress!;
        const long declared = 100_000_000; // more than the body limit too: the key is checked first

        // A wrong key: 401 while the client has sent 64 KB of its 100 MB.
        var (status, _) = await Partial(server, ("X-Api-Key", "wrong-key-0123456789"), declared);
        Assert.Equal(401, status);

        // A good key over its rate limit: 429, same.
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption(key: KeyA))).StatusCode);
        (status, _) = await Partial(server, ("X-Api-Key", KeyA), 1_000_000);
        Assert.Equal(429, status);
    }

    [Fact]
    public async Task A_declared_body_over_the_limit_and_a_full_queue_are_refused_before_the_body_is_read()
    {
        await using var factory = new ApiFactory(Settings(("Batching:QueueCapacity", "1"), ("Batching:MaxBatchSize", "2"), ("Batching:MaxWaitMs", "3000")));
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();

        var (status, _) = await Partial(client.BaseAddress!, ("X-Test", "1"), 1_000_000_000); // over 16 images x 20 MiB
        Assert.Equal(413, status);

        // A lone request waits up to MaxWaitMs for company: meanwhile the queue (1 place) is full.
        var first = client.PostAsync("/captions", Http.Form(Images.Png(16, 16)));
        var scheduler = (Batching.CaptionScheduler)factory.Services.GetService(typeof(Batching.CaptionScheduler))!;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); scheduler.QueueDepth < 1; await Task.Delay(5))
            Assert.True(DateTime.UtcNow < deadline, "the first request was never queued");
        (status, var head) = await Partial(client.BaseAddress!, ("X-Test", "2"), 1_000_000);
        Assert.Equal(503, status);
        Assert.Contains("Retry-After", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
    }

    [Fact]
    public async Task An_upload_that_stalls_half_way_gets_408_when_its_time_is_up()
    {
        await using var factory = new ApiFactory(Settings(("UploadTimeoutSeconds", "1")));
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var (status, _) = await Partial(client.BaseAddress!, ("X-Test", "stall"), 256 * 1024);

        Assert.Equal(408, status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"answered after {clock.Elapsed}");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Caption())).StatusCode);
    }

    /// <summary>Sends a POST /captions declaring <paramref name="declared"/> body bytes, sends 64 KB of
    /// them and stops; returns the status and headers the server answers with meanwhile.</summary>
    private static async Task<(int Status, string Head)> Partial(Uri server, (string Name, string Value) header, long declared)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        var stream = tcp.GetStream();
        var head = $"POST /captions HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            + $"{header.Name}: {header.Value}\r\nContent-Length: {declared}\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(new byte[64 * 1024]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("\r\n\r\n"))
        {
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0) break;
            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        var text = received.ToString();
        Assert.StartsWith("HTTP/1.1 ", text);
        return (int.Parse(text[9..12]), text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)]);
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
