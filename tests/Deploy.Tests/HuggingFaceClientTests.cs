using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using CaptionService.Api.Batching;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// The real @huggingface/inference client (4.13.30, tests/Clients/js) pointed at the service on a loopback
/// port, as its users point it at the Hugging Face Inference API: the captions it gets equal POST /captions's,
/// raw and JSON; it works with a key and says what is wrong with a bad one; a full queue stops it (one
/// request, 429), where it would re-send a 503 without end.
/// </summary>
public class HuggingFaceClientTests
{
    private const string Package = "@huggingface/inference";
    private const string Key = "client-key-0123456789";

    private static readonly string Picture = TestImagePath();

    private static string TestImagePath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hf-client-{Environment.ProcessId}.png");
        File.WriteAllBytes(path, TestImages.Circle(48, 40, 200, 30, 30));
        return path;
    }

    /// <summary>Runs image-to-text.mjs: the caption, or the client's error.</summary>
    private static async Task<JsonElement> Client(string endpoint, string form, string? token = null, string parameters = "{}")
    {
        var (exit, output, errors) = await ExternalTools.RunAsync("node", ExternalTools.JsFolder, TimeSpan.FromSeconds(60),
            "image-to-text.mjs", endpoint, form, Picture, token ?? "", parameters);
        Assert.True(exit == 0, $"node exited {exit}: {errors}");
        return JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.Clone();
    }

    private static string Caption(JsonElement result) =>
        result.GetProperty("ok").GetBoolean() ? result.GetProperty("generated_text").GetString()! : throw new Xunit.Sdk.XunitException(result.ToString());

    private static async Task<string> PostCaptions(HttpClient http, params (string Name, string Value)[] fields)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(File.ReadAllBytes(Picture)), "image", "picture.png" } };
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = form };
        request.Headers.Add("X-Api-Key", Key);
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("caption").GetString()!;
    }

    [SkippableFact]
    public async Task Its_captions_equal_post_captions_raw_and_json_with_a_key_and_a_wrong_key_gets_a_clear_message()
    {
        ExternalTools.RequireNodePackage(Package);
        await using var service = await CountingService.StartAsync(("Captioner:ApiKeys:0", Key));

        var plain = await PostCaptions(service.Http);
        Assert.Equal(plain, Caption(await Client(service.BaseUrl, "raw", Key)));
        Assert.Equal(plain, Caption(await Client(service.BaseUrl + "/models/demo-shapes", "raw", Key)));
        Assert.Equal(plain, Caption(await Client(service.BaseUrl, "json", Key)));
        Assert.Equal(await PostCaptions(service.Http, ("max_tokens", "3")),
            Caption(await Client(service.BaseUrl, "json", Key, """{"max_new_tokens": 3}""")));
        Assert.Equal(await PostCaptions(service.Http, ("decoding", "sample"), ("seed", "5"), ("top_k", "4")),
            Caption(await Client(service.BaseUrl + "/models/demo-shapes", "json", Key, """{"do_sample": true, "seed": 5, "top_k": 4}""")));

        var wrong = await Client(service.BaseUrl, "raw", "hf_not-this-services-key");
        Assert.False(wrong.GetProperty("ok").GetBoolean());
        Assert.Equal(401, wrong.GetProperty("status").GetInt32());
        Assert.Equal("Failed to perform inference: The API key sent (X-Api-Key header or Authorization: Bearer) is not one of this service's keys.",
            wrong.GetProperty("message").GetString());
        var none = await Client(service.BaseUrl, "raw");
        Assert.Contains("Send one of the service's API keys", none.GetProperty("message").GetString());

        var otherModel = await Client(service.BaseUrl + "/models/nlpconnect/vit-gpt2-image-captioning", "raw", Key);
        Assert.Contains("This service serves 'demo-shapes'", otherModel.GetProperty("message").GetString());
    }

    [SkippableFact]
    public async Task With_the_queue_full_it_gets_429_and_stops_after_one_request()
    {
        ExternalTools.RequireNodePackage(Package);
        // A lone request waits up to MaxWaitMs in the queue for company: meanwhile the queue (1 place) is full.
        await using var service = await CountingService.StartAsync(("Captioner:Batching:QueueCapacity", "1"),
            ("Captioner:Batching:MaxBatchSize", "2"), ("Captioner:Batching:MaxWaitMs", "5000"));
        var first = service.Http.PostAsync("/captions", new MultipartFormDataContent { { new ByteArrayContent(File.ReadAllBytes(Picture)), "image", "a.png" } });
        var scheduler = service.Factory.Services.GetRequiredService<CaptionScheduler>();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); scheduler.QueueDepth < 1; await Task.Delay(5))
            Assert.True(DateTime.UtcNow < deadline, "the first request was never queued");

        var refused = await Client(service.BaseUrl, "raw");
        Assert.True(scheduler.QueueDepth == 1, "the queue emptied before the client was refused: the test proved nothing");

        Assert.False(refused.GetProperty("ok").GetBoolean());
        Assert.Equal(429, refused.GetProperty("status").GetInt32());
        Assert.Contains("places in the queue are taken", refused.GetProperty("message").GetString());
        Assert.Equal(1, service.Requests("/"));
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
    }

    /// <summary>The service on a loopback port, counting the requests it receives by path.</summary>
    private sealed class CountingService : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, int> counts;

        public required Factory Factory { get; init; }
        public required string BaseUrl { get; init; }
        public required HttpClient Http { get; init; }

        public int Requests(string path) => counts.GetValueOrDefault(path);

        public static async Task<CountingService> StartAsync(params (string Key, string Value)[] settings)
        {
            var counts = new ConcurrentDictionary<string, int>();
            // A free port named up front, as BrowserFixture.StartServiceAsync does (UseKestrel(0) races).
            var factory = new Factory([.. settings, ("urls", $"http://127.0.0.1:{Repo.FreeLoopbackPort()}")], path => counts.AddOrUpdate(path, 1, (_, n) => n + 1));
            factory.UseKestrel();
            factory.StartServer();
            var url = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
            var service = new CountingService(counts) { Factory = factory, BaseUrl = url, Http = new HttpClient { BaseAddress = new Uri(url) } };
            for (var deadline = DateTime.UtcNow.AddSeconds(60); (await service.Http.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK; await Task.Delay(50))
                if (DateTime.UtcNow > deadline) throw new TimeoutException("The model did not get ready in 60 s.");
            return service;
        }

        private CountingService(ConcurrentDictionary<string, int> counts) => this.counts = counts;

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Factory.DisposeAsync();
        }
    }

    private sealed class Factory((string Key, string Value)[] settings, Action<string> seen) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("Captioner:Device", "cpu");
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter>(new Counter(seen)));
        }
    }

    /// <summary>Counts every request, first thing in the pipeline.</summary>
    private sealed class Counter(Action<string> seen) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((HttpContext context, RequestDelegate nextMiddleware) =>
            {
                seen(context.Request.Path.Value ?? "");
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
