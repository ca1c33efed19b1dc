using System.Diagnostics.Metrics;
using System.Net;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace CaptionService.Api.Tests;

/// <summary>Each test starts its own service: settings, checkpoints, readiness, the real server.</summary>
public class StartupTests
{
    private static Dictionary<string, string?> Settings(params (string Key, string? Value)[] pairs) =>
        pairs.ToDictionary(p => "Captioner:" + p.Key, p => p.Value);

    [Theory]
    [InlineData("Device", "gpu", "Captioner:Device", "auto, cpu, cuda")]
    [InlineData("DType", "fp8", "Captioner:DType", "auto, fp32, bf16, fp16")]
    [InlineData("DType", "fp16", "Captioner:DType", "on CPU use bf16 or fp32")]
    [InlineData("Checkpoint", "/no/such/checkpoint", "Captioner:Checkpoint", "/no/such/checkpoint")]
    [InlineData("MaxUploadBytes", "0", "Captioner:MaxUploadBytes", "positive")]
    [InlineData("MaxPixels", "-5", "Captioner:MaxPixels", "positive")]
    public void Bad_settings_are_refused_with_a_message_naming_them(string key, string value, string names, string says)
    {
        var options = new CaptionerOptions { Device = "cpu" };
        typeof(CaptionerOptions).GetProperty(key)!.SetValue(options,
            key.StartsWith("Max") ? long.Parse(value) : value);

        var result = new CaptionerOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith(names + ":", failure);
        Assert.Contains(says, failure);
    }

    [Theory]
    [InlineData("MaxBatchSize", 0, "Captioner:Batching:MaxBatchSize", "at least 1")]
    [InlineData("QueueCapacity", 0, "Captioner:Batching:QueueCapacity", "at least 1")]
    [InlineData("MaxWaitMs", -1, "Captioner:Batching:MaxWaitMs", "0 or more")]
    [InlineData("RequestTimeoutSeconds", 0, "Captioner:Batching:RequestTimeoutSeconds", "positive")]
    [InlineData("MaxTokens", 0, "Captioner:Batching:MaxTokens", "at least 1")]
    [InlineData("MaxAdmitPerStep", -1, "Captioner:Batching:MaxAdmitPerStep", "0 (no limit) or more")]
    [InlineData("EncoderBlocksPerStep", -2, "Captioner:Batching:EncoderBlocksPerStep", "0 (the whole encoder at once) or more")]
    public void Bad_batching_settings_are_refused_with_a_message_naming_them(string key, double value, string names, string says)
    {
        var options = new CaptionerOptions { Device = "cpu" };
        var property = typeof(BatchingOptions).GetProperty(key)!;
        property.SetValue(options.Batching, Convert.ChangeType(value, property.PropertyType));

        var failure = Assert.Single(new CaptionerOptionsValidator().Validate(null, options).Failures!);
        Assert.StartsWith(names + ":", failure);
        Assert.Contains(says, failure);
    }

    [Fact]
    public void A_checkpoint_directory_without_config_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("api-tests-").FullName;
        try
        {
            var result = new CaptionerOptionsValidator().Validate(null, new CaptionerOptions { Checkpoint = dir, Device = "cpu" });
            Assert.Contains("config.json", Assert.Single(result.Failures!));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("hf:gpt2", "give the owner and the name of the repository: hf:OWNER/NAME or hf:OWNER/NAME@REVISION")]
    [InlineData("hf:nlpconnect/vit gpt2", "the name 'vit gpt2' is not a valid repository name")]
    [InlineData("hf:nlpconnect/vit-gpt2-image-captioning@../x", "the revision '../x' is not a branch, tag or commit name")]
    public void A_malformed_hub_reference_is_refused_naming_the_setting(string value, string says)
    {
        var failure = Assert.Single(new CaptionerOptionsValidator().Validate(null, new CaptionerOptions { Checkpoint = value, Device = "cpu" }).Failures!);
        Assert.StartsWith($"Captioner:Checkpoint: '{value}': ", failure);
        Assert.Contains(says, failure);
    }

    [Fact]
    public void A_hub_reference_is_valid_without_asking_the_hub()
    {
        var options = new CaptionerOptions { Checkpoint = "hf:nlpconnect/vit-gpt2-image-captioning@main", Device = "cpu" };
        Assert.True(new CaptionerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void The_defaults_are_valid()
    {
        Assert.True(new CaptionerOptionsValidator().Validate(null, new CaptionerOptions()).Succeeded);
    }

    [Fact]
    public void Bad_settings_stop_the_service_at_start()
    {
        using var factory = new ApiFactory(Settings(("Device", "gpu"), ("DType", "fp8")));

        var e = Record.Exception(() => factory.CreateClient());

        // The settings check ends Program before it builds a host (its lines go to the console: the
        // real process's output is checked by Invalid_settings_end_the_real_process_with_one_line).
        var failure = Assert.IsType<InvalidOperationException>(e);
        Assert.Contains("without ever building an IHost", failure.Message);
    }

    /// <summary>The service as deployed: its own process, configured through the environment.</summary>
    [Theory]
    [InlineData("Captioner__RateLimitPerMinute", "-1", "Captioner:RateLimitPerMinute", "0 (off) or a positive number")]
    [InlineData("Captioner__Batching__MaxBatchSize", "abc", "Captioner:Batching:MaxBatchSize", "whole number")]
    [InlineData("Captioner__Batching__MaxBatchSize", "0", "Captioner:Batching:MaxBatchSize", "at least 1")]
    [InlineData("Captioner__MaxUploadBytes", "99999999999999999999", "Captioner:MaxUploadBytes", "whole number")]
    [InlineData("Captioner__Batching__RequestTimeoutSeconds", "NaN", "Captioner:Batching:RequestTimeoutSeconds", "positive number of seconds")]
    [InlineData("Captioner__MixedPrecision", "yes", "Captioner:MixedPrecision", "true or false")]
    [InlineData("Captioner__MaxBatchSize", "8", "Captioner:MaxBatchSize", "is not a setting")]
    [InlineData("Captioner__ApiKeys", "a,b", "Captioner:ApiKeys", "Captioner__ApiKeys__0")]
    [InlineData("Captioner__TrustedProxies__0", "10.0.0.0/33", "Captioner:TrustedProxies:0", "IP address")]
    [InlineData("Captioner__Device", "gpu", "Captioner:Device", "auto, cpu, cuda")]
    [InlineData("Captioner__MaxPixels", "200000000", "Captioner:DecodeMemoryMegabytes", "raise it or lower MaxPixels")]
    [InlineData("ASPNETCORE_FORWARDEDHEADERS_ENABLED", "true", "ASPNETCORE_FORWARDEDHEADERS_ENABLED", "TrustedProxies")]
    [InlineData("--urls", "garbage", "urls", "http://0.0.0.0:8080")]
    public async Task Invalid_settings_end_the_real_process_with_exit_code_1_and_one_line(string variable, string value, string names, string allowed)
    {
        var (exitCode, output) = await RunService(variable, value);

        Assert.True(exitCode == 1, $"exit code {exitCode}: {output}");
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains(names, line);
        Assert.Contains(value, line);
        Assert.Contains(allowed, line);
        Assert.DoesNotContain("Exception", line);
    }

    [Fact]
    public async Task An_invalid_api_key_is_named_by_position_and_never_printed()
    {
        var (exitCode, output) = await RunService("Captioner__ApiKeys__0", "s3cret");

        Assert.Equal(1, exitCode);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Contains("Captioner:ApiKeys:0: must be at least 16 characters", line);
        Assert.Contains("(got 6)", line);
        Assert.DoesNotContain("s3cret", line);
    }

    /// <summary>Starts the built service (the copy in this test's output folder) with one setting, waits for it to end.</summary>
    private static async Task<(int ExitCode, string Output)> RunService(string variable, string value)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CaptionService.Api.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(variable == "--urls" ? value : "http://127.0.0.1:0");
        if (variable != "--urls") start.Environment[variable] = value;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the service did not stop with {variable}={value}: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Before_the_warm_up_caption_ready_is_503_and_live_200()
    {
        using var factory = new ApiFactory(Settings(("Device", "cpu")), loadModel: false);
        var client = factory.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", (await Http.Json(ready)).GetProperty("status").GetString());

        await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Images.Png(8, 8))), HttpStatusCode.ServiceUnavailable, "not ready");
        await Http.AssertProblem(await client.GetAsync("/model"), HttpStatusCode.ServiceUnavailable, "not ready");
    }

    [Fact]
    public async Task A_checkpoint_is_loaded_and_its_decoding_defaults_apply()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("api-tests-").FullName, "my-captioner");
        try
        {
            var config = Presets.Tiny with { Decoding = new DecodingOptions { Strategy = DecodingStrategy.Beam, NumBeams = 2, MaxNewTokens = 5 } };
            torch.manual_seed(7);
            using (var model = new Captioner(config)) Checkpoint.Save(model, dir);

            using var factory = new ApiFactory(Settings(("Checkpoint", dir), ("Device", "cpu"), ("DType", "bf16")));
            var client = await factory.ReadyClientAsync();

            var info = await Http.Json(await client.GetAsync("/model"));
            Assert.Equal("my-captioner", info.GetProperty("id").GetString());
            Assert.DoesNotContain(Path.GetDirectoryName(dir)!, info.GetRawText());
            Assert.False(info.GetProperty("built_in").GetBoolean());
            Assert.Equal("bf16", info.GetProperty("dtype").GetString());
            Assert.True(info.GetProperty("mixed_precision").GetBoolean());
            Assert.Equal("beam", info.GetProperty("config").GetProperty("decoding").GetProperty("strategy").GetString());

            var response = await client.PostAsync("/captions", Http.Form(Images.Png(16, 16)));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = await Http.Json(response);
            Assert.Equal("my-captioner", answer.GetProperty("model").GetProperty("id").GetString());
            var decoding = answer.GetProperty("decoding");
            Assert.Equal("beam", decoding.GetProperty("strategy").GetString());
            Assert.Equal(2, decoding.GetProperty("num_beams").GetInt32());
            Assert.Equal(5, decoding.GetProperty("max_tokens").GetInt32());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Fact]
    public async Task A_checkpoint_that_fails_to_load_fails_the_host_and_stops_the_service()
    {
        var dir = Directory.CreateTempSubdirectory("api-tests-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, Checkpoint.ConfigFileName), Presets.Tiny.ToJson()); // no weights
            var options = Microsoft.Extensions.Options.Options.Create(new CaptionerOptions { Checkpoint = dir, Device = "cpu" });
            using var host = new ModelHost(options, NullLogger<ModelHost>.Instance);
            var lifetime = new StoppableLifetime();
            using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
            using var scheduler = new CaptionScheduler(options, new CaptionMetrics(meters.GetRequiredService<IMeterFactory>()), NullLogger<CaptionScheduler>.Instance);
            using var loader = new ModelLoader(host, scheduler, lifetime, NullLogger<ModelLoader>.Instance);

            await loader.StartAsync(CancellationToken.None);
            await loader.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.True(lifetime.StopRequested);
            Assert.False(host.IsReady);
            Assert.StartsWith("failed:", host.State);
            Assert.Contains(Checkpoint.WeightsFileName, host.State);
            Assert.False(scheduler.IsRunning);
            var ready = await new ModelReadyHealthCheck(host, scheduler).CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Unhealthy, ready.Status);
        }
        finally
        {
            Environment.ExitCode = 0; // the loader sets 1 for the process, which here is the test run
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class StoppableLifetime : IHostApplicationLifetime
    {
        public bool StopRequested { get; private set; }
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() => StopRequested = true;
    }

    [Fact]
    public async Task Behind_kestrel_a_body_over_the_limit_is_a_413_problem_and_a_caption_still_works()
    {
        using var factory = new ApiFactory(Settings(("Device", "cpu"), ("MaxUploadBytes", "100000"), ("MaxImagesPerRequest", "2")));
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();
        Assert.Equal("http", client.BaseAddress?.Scheme);

        // Declared length over the limit: refused before the body is read. The client asks first
        // (Expect: 100-continue, as curl does for large bodies): without it, the client may still be
        // writing when the server answers and closes, and it sees a broken pipe instead of the 413.
        var declared = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(new byte[1_000_000]) };
        declared.Headers.ExpectContinue = true;
        await Http.AssertProblem(await client.SendAsync(declared), HttpStatusCode.RequestEntityTooLarge, "265,536");

        // Chunked, no declared length: refused once the bytes read pass the limit. Only a little over it,
        // so that the whole body is in the socket's buffers before the server answers and closes.
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/captions") { Content = Http.Form(new byte[300_000]) };
        chunked.Headers.TransferEncodingChunked = true;
        chunked.Headers.ExpectContinue = true;
        await Http.AssertProblem(await client.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, "265,536");

        // Just over MaxUploadBytes but within the request limit: the upload check names the image limit.
        await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(new byte[100_001])), HttpStatusCode.RequestEntityTooLarge, "100,000");

        var ok = await client.PostAsync("/captions", Http.Form(Images.Png(20, 20), ("max_tokens", "3")));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
