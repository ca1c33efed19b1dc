using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CaptionService.Api.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Api.Tests;

/// <summary>
/// The service as it runs in production (environment "Production": no developer exception page),
/// with the given Captioner settings, plus one test-only route, <c>GET /test/throw</c>, that fails
/// inside the app's pipeline (after the endpoints) to exercise the 500 path.
/// </summary>
/// <param name="services">more test services (in-memory telemetry exporters, say)</param>
public class ApiFactory(IReadOnlyDictionary<string, string?>? settings = null, bool loadModel = true, Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    public const string ThrowPath = "/test/throw";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            builder.UseSetting(key, value);
        builder.ConfigureTestServices(collection =>
        {
            collection.AddSingleton<IStartupFilter, ThrowingRoute>();
            if (!loadModel)
            {
                var loader = collection.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(ModelLoader));
                collection.Remove(loader);
            }
            services?.Invoke(collection);
        });
    }

    /// <summary>A client, once /health/ready says the model has answered its warm-up caption.</summary>
    public async Task<HttpClient> ReadyClientAsync()
    {
        var client = CreateClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The model did not get ready in 60 s.");
            await Task.Delay(25);
        }
        return client;
    }

    private sealed class ThrowingRoute : IStartupFilter
    {
        // Middleware added after the app's own runs inside its exception handler (only for requests no endpoint took).
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Use((HttpContext context, RequestDelegate nextMiddleware) => context.Request.Path == ThrowPath
                ? throw new InvalidOperationException("secret internal detail")
                : nextMiddleware(context));
        };
    }
}

/// <summary>One service (the built-in demo checkpoint) shared by the endpoint tests, with small upload limits.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public const long MaxUploadBytes = 256 * 1024;
    public const long MaxPixels = 1_000_000;

    public ApiFactory Factory { get; } = new(new Dictionary<string, string?>
    {
        ["Captioner:Device"] = "cpu",
        ["Captioner:MaxUploadBytes"] = MaxUploadBytes.ToString(),
        ["Captioner:MaxPixels"] = MaxPixels.ToString(),
    });

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync() => Client = await Factory.ReadyClientAsync();

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

internal static class Images
{
    public static byte[] Png(int width, int height, Func<int, int, Rgb24>? colour = null)
    {
        colour ??= (x, y) => new Rgb24((byte)(x * 255 / Math.Max(1, width - 1)), (byte)(y * 255 / Math.Max(1, height - 1)), 90);
        using var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++) row[x] = colour(x, y);
            }
        });
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    /// <summary>A 64 x 48 picture in each accepted format and kind (JPEG baseline and progressive,
    /// PNG, GIF, WebP lossy and lossless, BMP).</summary>
    public static IEnumerable<(string Kind, byte[] Bytes)> EveryFormat()
    {
        var random = new Random(5);
        using var image = new Image<Rgb24>(64, 48);
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                image[x, y] = new Rgb24((byte)(x * 4), (byte)random.Next(256), (byte)(y * 5));
        byte[] Encode(SixLabors.ImageSharp.Formats.IImageEncoder encoder)
        {
            using var stream = new MemoryStream();
            image.Save(stream, encoder);
            return stream.ToArray();
        }
        yield return ("JPEG baseline", Encode(new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 90 }));
        yield return ("JPEG progressive", File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "data", "progressive.jpg")));
        yield return ("PNG", Encode(new SixLabors.ImageSharp.Formats.Png.PngEncoder()));
        yield return ("GIF", Encode(new SixLabors.ImageSharp.Formats.Gif.GifEncoder()));
        yield return ("WebP lossy", Encode(new SixLabors.ImageSharp.Formats.Webp.WebpEncoder { FileFormat = SixLabors.ImageSharp.Formats.Webp.WebpFileFormatType.Lossy }));
        yield return ("WebP lossless", Encode(new SixLabors.ImageSharp.Formats.Webp.WebpEncoder { FileFormat = SixLabors.ImageSharp.Formats.Webp.WebpFileFormatType.Lossless }));
        yield return ("BMP", Encode(new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder()));
    }

    /// <summary>A 64 x 64 noise PNG cut in half: the header reads, the pixels do not.</summary>
    public static byte[] TruncatedPng()
    {
        var random = new Random(1);
        var png = Png(64, 64, (_, _) => new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)));
        return png[..(png.Length / 2)];
    }
}

internal static class Http
{
    /// <summary>multipart/form-data with the image under "image" (when given) and the other fields as text.</summary>
    public static MultipartFormDataContent Form(byte[]? image, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        if (image is not null)
        {
            var file = new ByteArrayContent(image);
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, "image", "image.png");
        }
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        return form;
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Checks an RFC 7807 answer: status, media type, detail text, and no stack trace or exception internals.</summary>
    public static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status, params string[] detailContains)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
        foreach (var part in detailContains) Assert.Contains(part, detail, StringComparison.OrdinalIgnoreCase);
        return problem;
    }
}
