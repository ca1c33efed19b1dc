using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;

namespace CaptionService.Deploy.Tests;

/// <summary>The page at / in a real browser: upload, caption, gallery, errors, keyboard, a phone-sized screen.</summary>
[Collection(BrowserCollection.Name)]
public class WebPageTests(BrowserFixture web)
{
    private static readonly byte[] RedCircle = TestImages.Circle(64, 64, 220, 30, 30);
    private static readonly byte[] BlueSquare = TestImages.Square(64, 64, 30, 60, 220);

    private async Task<IPage> OpenPage(int width, int height, string? baseUrl = null)
    {
        var page = await web.Browser.NewPageAsync(new() { ViewportSize = new() { Width = width, Height = height } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync((baseUrl ?? web.BaseUrl) + "/");
        await Assertions.Expect(page.Locator("#model-status")).ToContainTextAsync("is ready");
        return page;
    }

    private static string Save(string name, byte[] bytes)
    {
        var dir = Repo.PathOf("artifacts/web-page-test");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>What POST /captions answers for the same image and fields.</summary>
    private async Task<(HttpStatusCode Status, JsonElement Body)> Api(byte[] image, string fileName, params (string Name, string Value)[] fields)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "image", fileName);
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        var response = await web.Http.PostAsync("/captions", form);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static async Task WaitForCards(IPage page, int count)
    {
        await Assertions.Expect(page.Locator(".card")).ToHaveCountAsync(count);
        await page.WaitForFunctionAsync(
            "() => [...document.querySelectorAll('.card')].every(c => c.dataset.state === 'done' || c.dataset.state === 'failed')");
    }

    [SkippableFact]
    public async Task Two_images_on_a_phone_sized_screen_get_the_captions_the_api_gives_captioned_from_the_keyboard()
    {
        web.RequireBrowser();
        var page = await OpenPage(375, 812);
        await page.SetInputFilesAsync("#images", [Save("red-circle.png", RedCircle), Save("blue-square.png", BlueSquare)]);
        await Assertions.Expect(page.Locator(".card .preview")).ToHaveCountAsync(2);
        Assert.All(await page.Locator(".card .preview").EvaluateAllAsync<string[]>("imgs => imgs.map(i => i.src)"),
            src => Assert.StartsWith("blob:", src));

        // Beam search with 2 beams, chosen and started from the keyboard only.
        await page.FocusAsync("input[name=decoding][value=greedy]");
        await page.Keyboard.PressAsync("ArrowRight"); // sample
        await page.Keyboard.PressAsync("ArrowRight"); // beam
        Assert.True(await page.IsCheckedAsync("input[name=decoding][value=beam]"));
        Assert.True(await page.IsVisibleAsync("#num_beams"));
        Assert.False(await page.IsVisibleAsync("#temperature"));
        await page.FillAsync("#num_beams", "2");
        for (int i = 0; i < 10 && await page.EvaluateAsync<string>("() => document.activeElement.id") != "caption-button"; i++)
            await page.Keyboard.PressAsync("Tab");
        Assert.Equal("caption-button", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.NotEqual("none", await page.EvaluateAsync<string>("() => getComputedStyle(document.activeElement).outlineStyle")); // visible focus
        await page.Keyboard.PressAsync("Enter");

        await WaitForCards(page, 2);
        var shown = await page.Locator(".card .caption").AllTextContentsAsync();
        var (_, circle) = await Api(RedCircle, "red-circle.png", ("decoding", "beam"), ("num_beams", "2"));
        var (_, square) = await Api(BlueSquare, "blue-square.png", ("decoding", "beam"), ("num_beams", "2"));
        Assert.Equal([circle.GetProperty("caption").GetString()!, square.GetProperty("caption").GetString()!], shown);

        // The timings are whatever keys timings_ms has.
        var timingNames = await page.Locator(".card").First.Locator(".timings dt").AllTextContentsAsync();
        Assert.Equal(circle.GetProperty("timings_ms").EnumerateObject().Select(p => p.Name.Replace('_', ' ')), timingNames);
        Assert.StartsWith("beam", await page.Locator(".card .decoding").First.TextContentAsync());

        // Nothing sticks out sideways at 375 px.
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));
        await page.ScreenshotAsync(new() { Path = Repo.PathOf("artifacts/web-page-phone.png"), FullPage = true });

        // The same gallery at desktop width, for the README.
        await page.SetViewportSizeAsync(1100, 900);
        await page.ScreenshotAsync(new() { Path = Repo.PathOf("artifacts/web-page.png"), FullPage = true });
        await page.CloseAsync();
    }

    [SkippableFact]
    public async Task A_dropped_image_greedy_and_seeded_sampling_match_the_api()
    {
        web.RequireBrowser();
        var page = await OpenPage(1000, 800);
        var file = Save("red-circle.png", RedCircle);

        // Dropped on the drop zone (a drop event carrying the file, as a drag from the desktop delivers it).
        await page.EvaluateAsync(@"base64 => {
            const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], 'red-circle.png', { type: 'image/png' }));
            document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
        }", Convert.ToBase64String(RedCircle));
        await Assertions.Expect(page.Locator(".card .file-name")).ToHaveTextAsync("red-circle.png");
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        var (_, greedy) = await Api(RedCircle, "red-circle.png", ("decoding", "greedy"));
        Assert.Equal(greedy.GetProperty("caption").GetString(), await page.Locator(".card .caption").First.TextContentAsync());

        await page.ClickAsync("#clear-button");
        await Assertions.Expect(page.Locator(".card")).ToHaveCountAsync(0);
        await page.SetInputFilesAsync("#images", file);
        await page.CheckAsync("input[name=decoding][value=sample]");
        await page.FillAsync("#temperature", "1.3");
        await page.FillAsync("#seed", "42");
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        var (_, sampled) = await Api(RedCircle, "red-circle.png", ("decoding", "sample"), ("temperature", "1.3"), ("top_p", "0.9"), ("seed", "42"));
        Assert.Equal(sampled.GetProperty("caption").GetString(), await page.Locator(".card .caption").First.TextContentAsync());
        await page.CloseAsync();
    }

    [SkippableFact]
    public async Task Errors_from_the_api_are_shown_in_plain_words()
    {
        web.RequireBrowser();
        var page = await OpenPage(1000, 800);

        // Pressing Caption with nothing chosen.
        await page.ClickAsync("#caption-button");
        await Assertions.Expect(page.Locator("#form-message")).ToContainTextAsync("Choose or drop at least one image");

        // A file that is not an image: the API's 415 detail, in a card marked as failed.
        var notAnImage = "just some text, not a picture"u8.ToArray();
        await page.SetInputFilesAsync("#images", Save("notes.png", notAnImage));
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        var (status, problem) = await Api(notAnImage, "notes.png");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        var error = page.Locator(".card .error").First;
        await Assertions.Expect(error).ToContainTextAsync("not an image the service can read");
        await Assertions.Expect(error).ToContainTextAsync(problem.GetProperty("detail").GetString()!);
        Assert.Equal("failed", await page.Locator(".card").First.GetAttributeAsync("data-state"));

        // A bad option: the field and the API's message for it.
        await page.ClickAsync("#clear-button");
        await page.SetInputFilesAsync("#images", Save("red-circle.png", RedCircle));
        await page.CheckAsync("input[name=decoding][value=sample]");
        await page.FillAsync("#temperature", "0");
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        var (badStatus, badProblem) = await Api(RedCircle, "red-circle.png", ("decoding", "sample"), ("temperature", "0"), ("top_p", "0.9"));
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        var message = badProblem.GetProperty("errors").GetProperty("temperature")[0].GetString()!;
        await Assertions.Expect(page.Locator(".card .error").First).ToContainTextAsync($"temperature: {message}");
        await page.CloseAsync();
    }

    [SkippableFact]
    public async Task With_api_keys_the_page_sends_the_key_typed_in_and_keeps_it_for_the_tab_only()
    {
        web.RequireBrowser();
        const string key = "page-test-key-0123456789";
        await using var keyed = await BrowserFixture.StartServiceAsync(("Captioner:ApiKeys:0", key));
        var page = await web.Browser.NewPageAsync(new() { ViewportSize = new() { Width = 1000, Height = 800 } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(keyed.BaseUrl + "/");

        // Without a key: the model's name (from the readiness answer), and the page asks for a key.
        await Assertions.Expect(page.Locator("#model-status")).ToContainTextAsync("needs an API key");
        await Assertions.Expect(page.Locator("#model-name")).ToHaveTextAsync("demo-shapes");
        Assert.Equal("image/svg+xml", (await page.Locator("link[rel=icon]").GetAttributeAsync("type")));
        Assert.Equal(HttpStatusCode.OK, (await keyed.Http.GetAsync("/favicon.svg")).StatusCode);
        await page.SetInputFilesAsync("#images", Save("red-circle.png", RedCircle));
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        await Assertions.Expect(page.Locator(".card .error").First).ToContainTextAsync("needs an API key");

        // With the key: captioned, and the status shows the model's details (GET /model takes the key too).
        await page.FillAsync("#api-key", key);
        await page.Locator("#api-key").DispatchEventAsync("change");
        await Assertions.Expect(page.Locator("#model-status")).ToContainTextAsync("Model demo-shapes is ready (cpu");
        await page.ClickAsync("#caption-button");
        await WaitForCards(page, 1);
        await Assertions.Expect(page.Locator(".card")).ToHaveAttributeAsync("data-state", "done");
        Assert.False(string.IsNullOrWhiteSpace(await page.Locator(".card .caption").First.TextContentAsync()));

        // Kept in session storage, for this tab: a reload keeps it; local storage and cookies never hold it.
        Assert.Equal(key, await page.EvaluateAsync<string>("() => sessionStorage.getItem('captionservice.api-key')"));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => localStorage.length"));
        Assert.Empty(await page.Context.CookiesAsync());
        await page.ReloadAsync();
        Assert.Equal(key, await page.InputValueAsync("#api-key"));
        Assert.Equal("password", await page.Locator("#api-key").GetAttributeAsync("type"));
        // Another tab (a new browsing session) starts without it.
        var other = await web.Browser.NewPageAsync();
        await other.GotoAsync(keyed.BaseUrl + "/");
        Assert.Equal("", await other.InputValueAsync("#api-key"));
        await other.CloseAsync();
        await page.CloseAsync();
    }
}
