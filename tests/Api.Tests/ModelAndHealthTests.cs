using System.Net;
using CaptionService.Api.Options;
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
        // No filesystem path, anywhere in the answer.
        Assert.False(model.TryGetProperty("checkpoint", out _));
        Assert.DoesNotContain(AppContext.BaseDirectory.TrimEnd('/'), model.GetRawText());
        Assert.DoesNotContain("/checkpoints/", model.GetRawText());
        Assert.True(model.GetProperty("built_in").GetBoolean());
        Assert.Equal("cpu", model.GetProperty("device").GetString());
        var (precision, reason) = TorchRuntime.ResolvePrecision("auto", TorchSharp.torch.CPU); // Captioner:DType's default
        Assert.Equal(TorchRuntime.Name(TorchRuntime.ScalarTypeOf(precision)), model.GetProperty("dtype").GetString());
        Assert.Equal(reason, model.GetProperty("dtype_reason").GetString());
        Assert.StartsWith(MklIntelPath.IsOn ? "on (" : "off: ", model.GetProperty("mkl_intel_path").GetString());
        // Captioner:CpuKernels defaults to true: the decoding steps run on them wherever this CPU has them.
        Assert.StartsWith(CaptionService.Model.Kernels.CpuKernels.Supports(TorchRuntime.ScalarTypeOf(precision)) ? "on: " : "off: ",
            model.GetProperty("cpu_kernels").GetString());
        var limits = model.GetProperty("limits");
        Assert.Equal(63, limits.GetProperty("max_tokens").GetInt32()); // Batching:MaxTokens 64, capped by the demo model's 64 positions
        Assert.Equal(32, limits.GetProperty("max_batch_size").GetInt32());
        Assert.Equal(ApiFixture.MaxUploadBytes, limits.GetProperty("max_upload_bytes").GetInt64());

        // The demo's own config.json: the small preset with the vocabulary of its captions.
        var demo = CaptionService.Model.Checkpoints.Checkpoint.ReadConfig(CaptionerOptions.BuiltInCheckpoint);
        Assert.Equal(42, demo.TokenIds!.Length);
        Assert.Equal((Presets.Small with { TokenIds = demo.TokenIds, VocabSize = 42, BosTokenId = 41, EosTokenId = 41, PadTokenId = 41 }).ToJson(), demo.ToJson());
        var counts = new Captioner(demo).CountParameters();
        var p = model.GetProperty("parameters");
        Assert.Equal(counts.Encoder, p.GetProperty("encoder").GetInt64());
        Assert.Equal(counts.Decoder, p.GetProperty("decoder").GetInt64());
        Assert.Equal(counts.CrossAttention, p.GetProperty("cross_attention").GetInt64());
        Assert.Equal(counts.Total, p.GetProperty("total").GetInt64());

        // The config as its config.json spells it, and the preprocessing it records (the seed's), spelled out.
        Assert.Equal(demo.ToJson(), ModelConfig.FromJson(model.GetProperty("config").GetRawText()).ToJson());
        var preprocessing = model.GetProperty("preprocessing");
        Assert.StartsWith("seed:", preprocessing.GetProperty("source").GetString());
        var steps = preprocessing.GetProperty("steps").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains(steps, s => s!.StartsWith("resize to 96 x 96"));
        Assert.Contains("normalize: (x - [0.5, 0.5, 0.5]) / [0.5, 0.5, 0.5]", steps);
        Assert.False(model.TryGetProperty("hub", out _));
    }

    [Fact]
    public async Task The_demo_model_says_it_only_knows_shapes_and_how_to_serve_a_real_model_everywhere()
    {
        var model = await Http.Json(await api.Client.GetAsync("/model"));
        Assert.Equal(ModelNotice.Demo, model.GetProperty("notice").GetString());
        Assert.Contains("coloured circles, squares, triangles, stars, crosses and rings", ModelNotice.Demo);
        Assert.Contains("Captioner__Checkpoint=hf:nlpconnect/vit-gpt2-image-captioning", ModelNotice.Demo);

        var caption = await Http.Json(await api.Client.PostAsync("/captions", Http.Form(Images.Png(16, 16), ("max_tokens", "2"))));
        Assert.Equal(ModelNotice.Demo, caption.GetProperty("model").GetProperty("notice").GetString());

        var swagger = await Http.Json(await api.Client.GetAsync("/swagger/v1/swagger.json"));
        var description = swagger.GetProperty("info").GetProperty("description").GetString()!;
        Assert.Contains("serving the built-in demo checkpoint (demo-shapes). " + ModelNotice.Demo, description);

        var page = await api.Client.GetStringAsync("/");
        Assert.Contains("id=\"model-notice\"", page); // filled from /model's notice (tests/Deploy.Tests drives it in a browser)
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
