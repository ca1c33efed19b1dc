using System.Text.Json;

namespace CaptionService.Api.Tests;

/// <summary>The OpenAPI document as a client generator or Swagger UI reads it: how each operation is
/// authorized, what it can answer (problems with examples), servers, licence, tag descriptions.
/// (tests/Deploy.Tests runs Redocly's linter on it too, and Swagger UI's Authorize in a browser.)</summary>
[Collection(ApiCollection.Name)]
public class ContractTests(ApiFixture api)
{
    private async Task<JsonElement> Document() => await Http.Json(await api.Client.GetAsync("/swagger/v1/swagger.json"));

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement doc) =>
        doc.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Select(o => (p.Name, o.Name, o.Value)));

    [Fact]
    public async Task Every_operation_that_takes_a_key_names_both_schemes_and_the_others_none()
    {
        var doc = await Document();
        var schemes = doc.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("X-Api-Key", schemes.GetProperty("ApiKey").GetProperty("name").GetString());
        Assert.Equal("header", schemes.GetProperty("ApiKey").GetProperty("in").GetString());
        Assert.Equal("bearer", schemes.GetProperty("Bearer").GetProperty("scheme").GetString());
        foreach (var (path, method, operation) in Operations(doc))
        {
            var security = operation.GetProperty("security").EnumerateArray().Select(r => string.Join("+", r.EnumerateObject().Select(s => s.Name))).ToList();
            // No keys configured in this fixture: a key is optional ("" is the empty requirement).
            Assert.True(security.SequenceEqual(["ApiKey", "Bearer", ""]), $"{method} {path}: {string.Join(", ", security)}");
        }
    }

    [Theory]
    [InlineData("/captions", new[] { 200, 400, 401, 408, 413, 415, 429, 500, 503 })]
    [InlineData("/captions/batch", new[] { 200, 400, 401, 408, 413, 415, 429, 500, 503 })]
    [InlineData("/", new[] { 200, 400, 401, 408, 413, 415, 429, 500 })]
    [InlineData("/models/{id}", new[] { 200, 400, 401, 404, 408, 413, 415, 429, 500 })]
    [InlineData("/model", new[] { 200, 401, 429, 503 })]
    public async Task Every_operation_lists_its_answers_each_problem_with_an_example(string path, int[] statuses)
    {
        var doc = await Document();
        var operation = doc.GetProperty("paths").GetProperty(path).EnumerateObject().Single().Value;
        var responses = operation.GetProperty("responses");
        Assert.Equal(statuses.Select(s => s.ToString()), responses.EnumerateObject().Select(r => r.Name).Order());
        foreach (var response in responses.EnumerateObject().Where(r => r.Name != "200"))
        {
            var problem = response.Value.GetProperty("content").GetProperty("application/problem+json");
            var example = problem.GetProperty("example");
            Assert.Equal(int.Parse(response.Name), example.GetProperty("status").GetInt32());
            Assert.False(string.IsNullOrEmpty(example.GetProperty("detail").GetString()), $"{path} {response.Name}");
            if (path.StartsWith("/models/") || path == "/")
                Assert.Equal(example.GetProperty("detail").GetString(), example.GetProperty("error").GetString());
        }
        Assert.True(responses.GetProperty("200").GetProperty("content").EnumerateObject().Single().Value.TryGetProperty("example", out _) || path == "/model",
            $"{path}: no example of its answer");
    }

    [Fact]
    public async Task The_hugging_face_routes_take_an_image_or_json_and_say_so()
    {
        var doc = await Document();
        var body = doc.GetProperty("paths").GetProperty("/").GetProperty("post").GetProperty("requestBody");
        Assert.True(body.GetProperty("required").GetBoolean());
        var content = body.GetProperty("content");
        Assert.Equal(["application/json", "image/*", "application/octet-stream"], content.EnumerateObject().Select(c => c.Name));
        Assert.Equal("binary", content.GetProperty("image/*").GetProperty("schema").GetProperty("format").GetString());
        var request = doc.GetProperty("components").GetProperty("schemas").GetProperty("InferenceRequest").GetProperty("properties");
        Assert.True(request.TryGetProperty("inputs", out _));
        var parameters = doc.GetProperty("components").GetProperty("schemas").GetProperty("ImageToTextParameters").GetProperty("properties");
        foreach (var name in new[] { "max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "num_beams", "generation_parameters" })
            Assert.True(parameters.TryGetProperty(name, out _), name);
        var answer = doc.GetProperty("components").GetProperty("schemas").GetProperty("ImageToTextResponse").GetProperty("properties");
        Assert.Equal(["generated_text"], answer.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task The_document_names_its_server_licence_and_what_each_tag_is_for()
    {
        var doc = await Document();
        var server = Assert.Single(doc.GetProperty("servers").EnumerateArray());
        Assert.Equal(api.Client.BaseAddress!.GetLeftPart(UriPartial.Authority), server.GetProperty("url").GetString());
        var license = doc.GetProperty("info").GetProperty("license");
        Assert.False(string.IsNullOrEmpty(license.GetProperty("name").GetString()));
        Assert.StartsWith("https://", license.GetProperty("url").GetString());
        var tags = doc.GetProperty("tags").EnumerateArray().ToList();
        Assert.Equal(["Captions", "Hugging Face Inference API", "Model"], tags.Select(t => t.GetProperty("name").GetString()));
        Assert.All(tags, t => Assert.False(string.IsNullOrEmpty(t.GetProperty("description").GetString())));
    }
}
