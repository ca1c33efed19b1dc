using System.Text.Json;
using Microsoft.Playwright;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// Swagger UI's Authorize button on a service with an API key, in a real browser: "Try it out" is 401
/// before, and 200 once the key is entered under either scheme (X-Api-Key, or bearer).
/// </summary>
[Collection(BrowserCollection.Name)]
public class SwaggerAuthorizeTests(BrowserFixture web)
{
    private const string Key = "swagger-key-0123456789";

    [SkippableTheory]
    [InlineData("ApiKey")]
    [InlineData("Bearer")]
    public async Task Authorize_with_the_key_makes_try_it_out_work(string scheme)
    {
        web.RequireBrowser();
        await using var service = await BrowserFixture.StartServiceAsync(("Captioner:ApiKeys:0", Key));
        var page = await web.Browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(service.BaseUrl + "/swagger");
        var operation = page.Locator("#operations-Model-GetModel");
        await operation.Locator(".opblock-summary").First.ClickAsync();
        await operation.Locator("button.try-out__btn").ClickAsync();

        var (status, _) = await Execute(operation);
        Assert.StartsWith("401", status);

        await page.Locator(".scheme-container button.authorize").ClickAsync();
        var modal = page.Locator(".modal-ux");
        var section = modal.Locator(".auth-container").Filter(new() { Has = page.Locator("h4", new() { HasText = scheme + " " }) });
        await section.Locator("input").First.FillAsync(Key);
        await section.Locator("button.authorize").ClickAsync();
        await modal.Locator("button.close-modal").ClickAsync();

        var (after, body) = await Execute(operation);
        Assert.True(after.StartsWith("200"), $"{after}: {body}");
        Assert.Equal("demo-shapes", body.GetProperty("id").GetString());
        await page.ScreenshotAsync(new() { Path = Repo.PathOf($"artifacts/swagger-ui-authorize-{scheme}.png"), FullPage = true });
        await page.CloseAsync();
    }

    /// <summary>Presses Execute and returns the rendered response's status and body.</summary>
    private static async Task<(string Status, JsonElement Body)> Execute(ILocator operation)
    {
        await operation.Locator("button.execute").ClickAsync();
        var response = operation.Locator(".live-responses-table tbody .response").First;
        await Assertions.Expect(response.Locator(".response-col_status")).Not.ToBeEmptyAsync();
        var status = (await response.Locator(".response-col_status").InnerTextAsync()).Trim();
        var body = await response.Locator(".response-col_description pre").First.InnerTextAsync();
        await operation.Locator("button.btn-clear").ClickAsync(); // the next Execute renders anew
        return (status, JsonDocument.Parse(body).RootElement.Clone());
    }
}
