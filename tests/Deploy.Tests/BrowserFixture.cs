using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// The service on Kestrel on a loopback port (the built-in demo checkpoint, CPU), and Debian's Chromium
/// driven by Playwright (never a downloaded browser). Without /usr/bin/chromium the browser tests skip,
/// saying so, under a plain <c>dotnet test</c>; with <see cref="RequiredVariable"/> set (as .ci/run sets it)
/// they fail instead.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Debian's package (`apt-get install chromium`), or the browser named by CAPTIONER_CHROMIUM.</summary>
    public static readonly string Chromium = Environment.GetEnvironmentVariable("CAPTIONER_CHROMIUM") ?? "/usr/bin/chromium";

    /// <summary>Set to 1 (by .ci/run) to make a missing or broken browser a failure rather than a skip.</summary>
    public const string RequiredVariable = "CAPTIONER_BROWSER_TESTS_REQUIRED";

    private IPlaywright? playwright;
    private Service? service;
    private string? missing;

    public string BaseUrl => service!.BaseUrl;
    public HttpClient Http => service!.Http;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            missing = $"Browser tests not run: {Chromium} is missing (apt-get install -y chromium; bash .ci/run installs it and requires these tests).";
            return;
        }
        service = await StartServiceAsync();
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>Skips the test (with the reason) when there is no browser, unless the browser is required.</summary>
    public void RequireBrowser()
    {
        if (missing is null) return;
        if (Environment.GetEnvironmentVariable(RequiredVariable) == "1")
            throw new InvalidOperationException(missing.Replace("Browser tests not run", $"{RequiredVariable}=1 but"));
        Skip.If(true, missing);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        playwright?.Dispose();
        if (service is not null) await service.DisposeAsync();
    }

    /// <summary>Another service on its own loopback port, with these settings, once ready.</summary>
    public static async Task<Service> StartServiceAsync(params (string Key, string Value)[] settings)
    {
        // A free port named up front: UseKestrel(0) races with Kestrel's start in WebApplicationFactory
        // ("Addresses cannot be modified after the server has started"; dotnet/aspnetcore pull request 67714).
        var factory = new KestrelFactory([.. settings, ("urls", $"http://127.0.0.1:{Repo.FreeLoopbackPort()}")]);
        factory.UseKestrel();
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var service = new Service(factory, address.TrimEnd('/'));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await service.Http.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The model did not get ready in 60 s.");
            await Task.Delay(50);
        }
        return service;
    }

    public sealed class Service(WebApplicationFactory<Program> factory, string baseUrl) : IAsyncDisposable
    {
        public string BaseUrl { get; } = baseUrl;
        public HttpClient Http { get; } = new() { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await factory.DisposeAsync();
        }
    }

    private sealed class KestrelFactory((string Key, string Value)[] settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            builder.UseSetting("Captioner:Device", "cpu");
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
        }
    }
}

/// <summary>The browser tests share one browser and one service.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
