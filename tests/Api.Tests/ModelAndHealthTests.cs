using System.Net;
using CaptionService.Model;

namespace CaptionService.Api.Tests;

[Collection(ApiCollection.Name)]
public class ModelAndHealthTests(ApiFixture api)
{
    [Fact]
    public async Task Model_reports_the_built_in_demo_checkpoint_with_its_parameter_counts()
    {
        var response = await api.Client.GetAsync("/model");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var model = await Http.Json(response);

        Assert.Equal("demo-shapes", model.GetProperty("id").GetString());
        Assert.EndsWith(Path.Combine("checkpoints", "demo-shapes"), model.GetProperty("checkpoint").GetString());
        Assert.True(model.GetProperty("built_in").GetBoolean());
        Assert.Equal("cpu", model.GetProperty("device").GetString());
        Assert.Equal("fp32", model.GetProperty("dtype").GetString());
        var limits = model.GetProperty("limits");
        Assert.Equal(63, limits.GetProperty("max_tokens").GetInt32()); // Batching:MaxTokens 64, capped by the demo model's 64 positions
        Assert.Equal(32, limits.GetProperty("max_batch_size").GetInt32());
        Assert.Equal(ApiFixture.MaxUploadBytes, limits.GetProperty("max_upload_bytes").GetInt64());

        // The demo checkpoint is the small preset, trained.
        var counts = new Captioner(Presets.Small).CountParameters();
        var p = model.GetProperty("parameters");
        Assert.Equal(counts.Encoder, p.GetProperty("encoder").GetInt64());
        Assert.Equal(counts.Decoder, p.GetProperty("decoder").GetInt64());
        Assert.Equal(counts.CrossAttention, p.GetProperty("cross_attention").GetInt64());
        Assert.Equal(counts.Total, p.GetProperty("total").GetInt64());

        // The config as a checkpoint's config.json spells it.
        var config = ModelConfig.FromJson(model.GetProperty("config").GetRawText());
        Assert.Equal(Presets.Small.ToJson(), config.ToJson());
    }

    [Fact]
    public async Task Live_and_ready_are_200_once_the_model_has_warmed_up()
    {
        Assert.Equal(HttpStatusCode.OK, (await api.Client.GetAsync("/health/live")).StatusCode);
        var ready = await api.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", (await Http.Json(ready)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Swagger_describes_the_upload_and_its_options()
    {
        var response = await api.Client.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await Http.Json(response);
        var body = doc.GetProperty("paths").GetProperty("/captions").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema");
        var properties = body.GetProperty("properties");
        Assert.Equal("binary", properties.GetProperty("image").GetProperty("format").GetString());
        Assert.Contains("image", body.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        foreach (var field in new[] { "decoding", "temperature", "top_k", "top_p", "num_beams", "max_tokens", "seed", "no_repeat_ngram_size", "length_penalty" })
            Assert.False(string.IsNullOrEmpty(properties.GetProperty(field).GetProperty("description").GetString()), field);
        Assert.Equal("integer", properties.GetProperty("top_k").GetProperty("type").GetString());
        Assert.Equal(3, properties.GetProperty("decoding").GetProperty("enum").GetArrayLength());
        Assert.True(doc.GetProperty("paths").TryGetProperty("/model", out _));

        var batch = doc.GetProperty("paths").GetProperty("/captions/batch").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema");
        var images = batch.GetProperty("properties").GetProperty("images");
        Assert.Equal("array", images.GetProperty("type").GetString());
        Assert.Equal("binary", images.GetProperty("items").GetProperty("format").GetString());
        Assert.Contains("images", batch.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("number", batch.GetProperty("properties").GetProperty("temperature").GetProperty("type").GetString());

        Assert.Equal(HttpStatusCode.OK, (await api.Client.GetAsync("/swagger/index.html")).StatusCode);
    }
}
