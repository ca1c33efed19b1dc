using System.Net;
using System.Text;

namespace CaptionService.Api.Tests;

[Collection(ApiCollection.Name)]
public class BadInputTests(ApiFixture api)
{
    private static readonly byte[] Picture = Images.Png(24, 24);

    private async Task<HttpResponseMessage> Post(HttpContent content)
    {
        var response = await api.Client.PostAsync("/captions", content);
        // Whatever was wrong, the service keeps answering.
        Assert.Equal(HttpStatusCode.OK, (await api.Client.PostAsync("/captions", Http.Form(Picture, ("max_tokens", "3")))).StatusCode);
        return response;
    }

    [Fact]
    public async Task Missing_image_is_400_naming_the_field()
    {
        var problem = await Http.AssertProblem(await Post(Http.Form(null, ("decoding", "greedy"))), HttpStatusCode.BadRequest, "'image'", "required");
        Assert.True(problem.GetProperty("errors").TryGetProperty("image", out _));
    }

    [Fact]
    public async Task Image_sent_as_text_is_400_saying_it_must_be_a_file()
    {
        var form = new MultipartFormDataContent { { new StringContent("not a file"), "image" } };
        await Http.AssertProblem(await Post(form), HttpStatusCode.BadRequest, "'image'", "file");
    }

    [Fact]
    public async Task Not_a_form_is_415()
    {
        var json = new StringContent("{\"image\": \"aGVsbG8=\"}", Encoding.UTF8, "application/json");
        await Http.AssertProblem(await Post(json), HttpStatusCode.UnsupportedMediaType, "multipart/form-data", "'image'");
    }

    [Fact]
    public async Task Upload_over_MaxUploadBytes_is_413()
    {
        var big = new byte[ApiFixture.MaxUploadBytes + 1];
        Picture.CopyTo(big, 0);
        var problem = await Http.AssertProblem(await Post(Http.Form(big)), HttpStatusCode.RequestEntityTooLarge,
            $"{ApiFixture.MaxUploadBytes:N0}");
        Assert.Equal("too-large", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Empty_image_is_400()
    {
        var problem = await Http.AssertProblem(await Post(Http.Form([])), HttpStatusCode.BadRequest, "empty");
        Assert.Equal("empty", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Too_many_pixels_is_413_with_the_size()
    {
        var atTheLimit = Images.Png(1250, 800, (_, _) => default); // exactly MaxPixels: accepted
        var problem = await Http.AssertProblem(await Post(Http.Form(Images.Png(1001, 1000, (_, _) => default))),
            HttpStatusCode.RequestEntityTooLarge, "1001 x 1000", $"{ApiFixture.MaxPixels:N0}");
        Assert.Equal("too-many-pixels", problem.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.OK, (await api.Client.PostAsync("/captions", Http.Form(atTheLimit, ("max_tokens", "2")))).StatusCode);
    }

    [Fact]
    public async Task Not_an_image_is_415()
    {
        var problem = await Http.AssertProblem(await Post(Http.Form(Encoding.UTF8.GetBytes("hello, this is text"))),
            HttpStatusCode.UnsupportedMediaType, "JPEG, PNG");
        Assert.Equal("unsupported-format", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_format_we_do_not_take_is_415_and_named()
    {
        var tiff = new byte[] { (byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0 };
        await Http.AssertProblem(await Post(Http.Form(tiff)), HttpStatusCode.UnsupportedMediaType, "TIFF");
    }

    [Fact]
    public async Task Truncated_png_is_400_corrupt()
    {
        var problem = await Http.AssertProblem(await Post(Http.Form(Images.TruncatedPng())), HttpStatusCode.BadRequest, "PNG");
        Assert.Equal("corrupt", problem.GetProperty("reason").GetString());
    }

    public static TheoryData<string> Kinds => new(Images.EveryFormat().Select(f => f.Kind));

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Every_format_is_captioned_whole_and_refused_as_corrupt_when_truncated_or_broken(string kind)
    {
        var bytes = Images.EveryFormat().Single(f => f.Kind == kind).Bytes;
        Assert.Equal(HttpStatusCode.OK, (await api.Client.PostAsync("/captions", Http.Form(bytes, ("max_tokens", "2")))).StatusCode);

        foreach (var cut in new[] { bytes.Length / 2, bytes.Length * 9 / 10, bytes.Length - 3 })
        {
            var problem = await Http.AssertProblem(await Post(Http.Form(bytes[..cut])), HttpStatusCode.BadRequest, "damaged or truncated");
            Assert.Equal("corrupt", problem.GetProperty("reason").GetString());
        }
        // Garbage in place of the second half: refused when its structure breaks, else decoded (noise
        // inside compressed data can be valid data); never a server error.
        var garbled = bytes.ToArray();
        new Random(9).NextBytes(garbled.AsSpan(garbled.Length / 2));
        var response = await Post(Http.Form(garbled));
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.OK, $"{kind}: {response.StatusCode}");
    }

    [Theory]
    [InlineData("decoding", "nucleus", "greedy, sample, beam")]
    [InlineData("temperature", "0", "from 0.01 to 100")]
    [InlineData("temperature", "warm", "number")]
    [InlineData("top_k", "-1", "top_k")]
    [InlineData("top_k", "2.5", "integer")]
    [InlineData("top_p", "1.5", "(0, 1]")]
    [InlineData("top_p", "NaN", "finite")]
    [InlineData("num_beams", "0", "at least 1")]
    [InlineData("num_beams", "1000", "at most")]
    [InlineData("max_tokens", "0", "at least 1")]
    [InlineData("max_tokens", "99999999999", "out of range")]
    [InlineData("seed", "abc", "integer")]
    [InlineData("no_repeat_ngram_size", "-2", "no_repeat_ngram_size")]
    [InlineData("length_penalty", "Infinity", "finite")]
    [InlineData("topk", "5", "Unknown form field")]
    public async Task Bad_option_is_400_naming_the_field(string field, string value, string detail)
    {
        var problem = await Http.AssertProblem(await Post(Http.Form(Picture, (field, value))), HttpStatusCode.BadRequest, field, detail);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Several_bad_options_are_all_named()
    {
        var problem = await Http.AssertProblem(await Post(Http.Form(Picture, ("top_k", "x"), ("temperature", "-1"))),
            HttpStatusCode.BadRequest, "top_k", "temperature");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("top_k", out _) && errors.TryGetProperty("temperature", out _));
    }

    [Fact]
    public async Task Unexpected_failure_is_500_without_details()
    {
        var response = await api.Client.GetAsync(ApiFactory.ThrowPath);
        var problem = await Http.AssertProblem(response, HttpStatusCode.InternalServerError);
        Assert.DoesNotContain("secret internal detail", problem.ToString());
        Assert.False(problem.TryGetProperty("detail", out _));
    }

    [Fact]
    public async Task Unknown_route_is_a_404_problem()
    {
        await Http.AssertProblem(await api.Client.GetAsync("/nothing-here"), HttpStatusCode.NotFound);
    }
}
