using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.LoadTest;

/// <summary>
/// Requests an attacker or a careless client sends, each a named case that sends one (or a few)
/// and says what came back: a status code, or what happened to the connection. None may ever get
/// a 500 or disturb anyone else.
/// </summary>
/// <param name="validKey">a valid API key: the hostile requests get past the key check to what they attack</param>
/// <param name="floodKey">another valid key, which the flood spends beyond its rate limit</param>
public sealed class Hostile(Uri service, HttpClient http, string validKey, string floodKey, int bombSide)
{
    /// <summary>The cases, in the order a worker cycles through them.</summary>
    public IReadOnlyList<(string Name, Func<string, Task<IReadOnlyList<string>>> Send)> Cases =>
    [
        ("extreme decoding options (temperature 1e-300, NaN, -0, huge integers, top_p 4.9e-324...)", PoisonOptions),
        ($"decompression bomb ({bombSide} x {bombSide} single-colour PNG, {bomb.Length / 1024} KB)", address => One(Caption(bomb, address, validKey))),
        ("truncated image (JPEG baseline and progressive, PNG, GIF, WebP, BMP in turn)", Truncated),
        ("malformed multipart body", Malformed),
        ("upload that stalls half-way", Stalled),
        ("client that disconnects mid-caption", Disconnect),
        ("12 wrong API keys in a row, a new one each time", Guesses),
        ("no API key", address => One(Caption(small, Guessing(address), null))),
        ("burst of 60 at once from one valid key (rate limit)", Flood),
        ("declared body of 1 GB", address => Raw(address, 1_000_000_000, TimeSpan.FromSeconds(10))),
        ("unknown form field, image sent as text", Unknown),
    ];

    private readonly byte[] small = LoadTest.Picture(9);
    private readonly byte[] bomb = Encode(new Image<Rgb24>(bombSide, bombSide, new Rgb24(200, 30, 30)), new PngEncoder());
    private readonly (string Kind, byte[] Bytes)[] whole = EveryFormat();
    private int next;

    private static readonly (string Field, string Value)[][] Poison =
    [
        [("decoding", "sample"), ("temperature", "1e-300")],
        [("decoding", "sample"), ("temperature", "NaN")],
        [("decoding", "sample"), ("temperature", "-0")],
        [("decoding", "sample"), ("temperature", "1e309")],
        [("decoding", "sample"), ("top_p", "4.9e-324")],
        [("decoding", "sample"), ("top_k", "99999999999999999999")],
        [("decoding", "sample"), ("seed", "1e400")],
        [("decoding", "beam"), ("num_beams", "2147483647")],
        [("decoding", "beam"), ("length_penalty", "-Infinity")],
        [("max_tokens", "-2147483649")],
        [("no_repeat_ngram_size", "-1")],
    ];

    private async Task<IReadOnlyList<string>> PoisonOptions(string address)
    {
        var fields = Poison[Interlocked.Increment(ref next) % Poison.Length];
        return await One(Caption(small, address, validKey, fields));
    }

    private async Task<IReadOnlyList<string>> Truncated(string address)
    {
        var (_, bytes) = whole[Interlocked.Increment(ref next) % whole.Length];
        return await One(Caption(bytes[..(bytes.Length * 2 / 3)], address, validKey));
    }

    private async Task<IReadOnlyList<string>> Malformed(string address)
    {
        string[] bodies =
        [
            "--wrong\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nxx\r\n--wrong--\r\n",  // not the declared boundary
            "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n\x89PNG",               // never closed
            "this is not multipart at all",
        ];
        var body = bodies[Interlocked.Increment(ref next) % bodies.Length];
        var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = new StringContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b");
        return await One(Send(request, address, validKey));
    }

    /// <summary>Declares a 256 KB image, sends half of it and stops; waits up to 15 s for the server.</summary>
    private Task<IReadOnlyList<string>> Stalled(string address) => Raw(address, 256 * 1024, TimeSpan.FromSeconds(15));

    /// <summary>Leaves at a random moment before the caption would come: a uniform share of how long
    /// the last one that was answered took (stretched a quarter each time it left first, so that the
    /// estimate does not stay short), so that it leaves mid-caption whether the checkpoint captions in
    /// 20 ms or in 2 s.</summary>
    private async Task<IReadOnlyList<string>> Disconnect(string address)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var leave = new CancellationTokenSource(TimeSpan.FromMilliseconds(1 + Random.Shared.NextDouble() * Volatile.Read(ref beamMs)));
        try
        {
            using var response = await http.SendAsync(Caption(small, address, validKey, [("decoding", "beam"), ("num_beams", "4"), ("max_tokens", "60")]), leave.Token);
            if (response.IsSuccessStatusCode) Volatile.Write(ref beamMs, clock.Elapsed.TotalMilliseconds);
            return [Status(response)];
        }
        catch (OperationCanceledException)
        {
            Volatile.Write(ref beamMs, Math.Min(10_000, Volatile.Read(ref beamMs) * 1.25));
            return ["left before the answer"];
        }
    }

    private double beamMs = 200;

    private async Task<IReadOnlyList<string>> Flood(string address)
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => One(Caption(small, address, floodKey, [("max_tokens", "1")]))));
        return answers.SelectMany(a => a).ToList();
    }

    private async Task<IReadOnlyList<string>> Guesses(string address)
    {
        var answers = new List<string>();
        for (int i = 0; i < 12; i++) answers.Add(await Status(Caption(small, Guessing(address), $"guess-{Guid.NewGuid():N}")));
        return answers;
    }

    /// <summary>Where a worker's requests without a valid key come from: an address of their own, since
    /// the service refuses everything from an address once its failed keys are spent.</summary>
    private static string Guessing(string address) => "198.51.100." + address[(address.LastIndexOf('.') + 1)..];

    private async Task<IReadOnlyList<string>> Unknown(string address)
    {
        var form = new MultipartFormDataContent { { new StringContent("not a file"), "image" }, { new StringContent("5"), "topk" } };
        var request = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = form };
        return await One(Send(request, address, validKey));
    }

    /// <summary>A raw request declaring <paramref name="declared"/> bytes of body, of which it sends
    /// half (at most 64 KB) and then nothing; what the server does within <paramref name="wait"/>.</summary>
    private async Task<IReadOnlyList<string>> Raw(string address, long declared, TimeSpan wait)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(service.Host, service.Port);
        var stream = tcp.GetStream();
        var head = $"POST /captions HTTP/1.1\r\nHost: {service.Authority}\r\nX-Api-Key: {validKey}\r\nX-Forwarded-For: {address}\r\n"
            + $"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {declared}\r\n\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n";
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            await stream.WriteAsync(new byte[Math.Min(declared / 2, 64 * 1024)], timeout.Token);
            var buffer = new byte[256];
            int n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0) return ["connection closed by the server"];
            var text = Encoding.ASCII.GetString(buffer, 0, n);
            return [text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? text[9..12] : "garbage answer"];
        }
        catch (OperationCanceledException)
        {
            return [$"no answer in {wait.TotalSeconds:0} s (client gave up)"];
        }
        catch (IOException)
        {
            return ["connection reset by the server"];
        }
    }

    private HttpRequestMessage Caption(byte[] image, string address, string? key, params (string Field, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "image", "upload.bin");
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        return new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = form }.With(key, address);
    }

    private Task<string> Send(HttpRequestMessage request, string address, string? key) => Status(request.With(key, address));

    private async Task<string> Status(HttpRequestMessage request)
    {
        try
        {
            using var response = await http.SendAsync(request);
            return Status(response);
        }
        catch (HttpRequestException e)
        {
            return $"connection failed ({e.HttpRequestError})";
        }
    }

    private static string Status(HttpResponseMessage response) => ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private async Task<IReadOnlyList<string>> One(HttpRequestMessage request) => [await Status(request)];

    private static async Task<IReadOnlyList<string>> One(Task<string> status) => [await status];

    private static byte[] Encode(Image image, IImageEncoder encoder)
    {
        using (image)
        using (var stream = new MemoryStream())
        {
            image.Save(stream, encoder);
            return stream.ToArray();
        }
    }

    /// <summary>A 320 x 240 picture with detail in every format the service takes (the progressive
    /// JPEG is a file: ImageSharp 2.1 writes only baseline).</summary>
    public static (string Kind, byte[] Bytes)[] EveryFormat()
    {
        Image<Rgb24> Picture()
        {
            var random = new Random(3);
            var image = new Image<Rgb24>(320, 240);
            for (int y = 0; y < 240; y++)
                for (int x = 0; x < 320; x++)
                    image[x, y] = new Rgb24((byte)(x * 255 / 320), (byte)random.Next(256), (byte)(y * 255 / 240));
            return image;
        }
        return
        [
            ("JPEG baseline", Encode(Picture(), new JpegEncoder())),
            ("JPEG progressive", File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "data", "progressive.jpg"))),
            ("PNG", Encode(Picture(), new PngEncoder())),
            ("GIF", Encode(Picture(), new GifEncoder())),
            ("WebP", Encode(Picture(), new WebpEncoder())),
            ("BMP", Encode(Picture(), new BmpEncoder())),
        ];
    }
}

internal static class RequestHeaders
{
    /// <summary>The API key (when given) and the client address a trusted proxy would forward.</summary>
    public static HttpRequestMessage With(this HttpRequestMessage request, string? key, string address)
    {
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        request.Headers.Add("X-Forwarded-For", address);
        return request;
    }
}
