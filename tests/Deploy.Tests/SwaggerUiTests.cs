using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Playwright;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// Swagger UI at /swagger in a real browser, as a newcomer uses it: open an operation, "Try it out",
/// choose the file, leave every other field as the UI fills it, Execute, and read the caption from the
/// rendered response.
/// </summary>
[Collection(BrowserCollection.Name)]
public class SwaggerUiTests(BrowserFixture web)
{
    private static readonly byte[] RedCircle = TestImages.Circle(64, 64, 220, 30, 30);
    private static readonly byte[] BlueSquare = TestImages.Square(64, 64, 30, 60, 220);

    private static string Save(string name, byte[] bytes)
    {
        var dir = Repo.PathOf("artifacts/swagger-ui-test");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Opens /swagger, expands <paramref name="operationId"/> and presses "Try it out".</summary>
    private async Task<(IPage Page, ILocator Operation)> TryItOut(string operationId)
    {
        var page = await web.Browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync(web.BaseUrl + "/swagger");
        var operation = page.Locator($"#operations-Captions-{operationId}");
        await operation.Locator(".opblock-summary").First.ClickAsync();
        await operation.Locator("button.try-out__btn").ClickAsync();
        return (page, operation);
    }

    /// <summary>Presses Execute and returns the rendered response's status and body.</summary>
    private static async Task<(string Status, JsonElement Body)> Execute(IPage page, ILocator operation, string screenshot)
    {
        await operation.Locator("button.execute").ClickAsync();
        var response = operation.Locator(".live-responses-table tbody .response").First;
        await Assertions.Expect(response.Locator(".response-col_status")).Not.ToBeEmptyAsync();
        var status = (await response.Locator(".response-col_status").InnerTextAsync()).Trim();
        var body = await response.Locator(".response-col_description pre").First.InnerTextAsync();
        await page.ScreenshotAsync(new() { Path = Repo.PathOf($"artifacts/{screenshot}"), FullPage = true });
        return (status, JsonDocument.Parse(body).RootElement.Clone());
    }

    /// <summary>What POST /captions answers for the image with no option given (the checkpoint's defaults).</summary>
    private async Task<string> CaptionOf(byte[] image)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "image.png");
        var response = await web.Http.PostAsync("/captions", form);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("caption").GetString()!;
    }

    [SkippableFact]
    public async Task Try_it_out_captions_an_image_with_every_field_as_the_ui_leaves_it()
    {
        web.RequireBrowser();
        var (page, operation) = await TryItOut("CreateCaption");
        await operation.Locator("input[type=file]").SetInputFilesAsync(Save("red-circle.png", RedCircle));

        var (status, body) = await Execute(page, operation, "swagger-ui-caption.png");
        Assert.True(status.StartsWith("200"), $"{status}: {body}");
        Assert.Equal(await CaptionOf(RedCircle), body.GetProperty("caption").GetString());
        Assert.Equal("demo-shapes", body.GetProperty("model").GetProperty("id").GetString());
        await page.CloseAsync();
    }

    [SkippableFact]
    public async Task Try_it_out_captions_a_batch_with_every_field_as_the_ui_leaves_it()
    {
        web.RequireBrowser();
        var (page, operation) = await TryItOut("CreateCaptions");
        // The images field is a list: one file in the row the UI shows, a second in a row it adds.
        var files = operation.Locator("[data-property-name=images] input[type=file]");
        var add = operation.Locator("[data-property-name=images] button.json-schema-form-item-add");
        if (await files.CountAsync() == 0) await add.ClickAsync();
        await files.Nth(0).SetInputFilesAsync(Save("red-circle.png", RedCircle));
        await add.ClickAsync();
        await Assertions.Expect(files).ToHaveCountAsync(2);
        await files.Nth(1).SetInputFilesAsync(Save("blue-square.png", BlueSquare));

        var (status, body) = await Execute(page, operation, "swagger-ui-batch.png");
        Assert.True(status.StartsWith("200"), $"{status}: {body}");
        var captions = body.GetProperty("captions").EnumerateArray().Select(c => c.GetProperty("caption").GetString()).ToList();
        Assert.Equal([await CaptionOf(RedCircle), await CaptionOf(BlueSquare)], captions);
        await page.CloseAsync();
    }
}
