using System.Net;
using System.Text.Json;
using CaptionService.Api.Batching;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace CaptionService.Api.Tests;

/// <summary>The continuous batcher seen from outside: many clients at once, mixed options, a full
/// queue, clients that leave, time-outs and shutdown. Each test runs its own host, alone: metrics
/// are read by meter name, which every live host in the process shares.</summary>
[Collection(Name)]
public class BatchingTests
{
    /// <summary>Four different pictures (shapes the demo checkpoint knows, on different backgrounds).</summary>
    private static readonly byte[][] Pictures =
    [
        Images.Png(40, 30),
        Images.Png(32, 32, (x, y) => (x - 16) * (x - 16) + (y - 16) * (y - 16) < 80 ? new Rgb24(220, 30, 30) : new Rgb24(240, 240, 240)),
        Images.Png(48, 48, (x, y) => x > 10 && x < 30 && y > 12 && y < 34 ? new Rgb24(30, 60, 220) : new Rgb24(20, 20, 20)),
        Images.Png(36, 24, (x, _) => new Rgb24((byte)(x * 7), 200, 40)),
    ];

    public const string Name = "batching";

    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class Alone;

    private static async Task<string> CaptionOf(HttpClient client, byte[] image, params (string, string)[] fields)
    {
        var response = await client.PostAsync("/captions", Http.Form(image, fields));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("caption").GetString()!;
    }

    [Fact]
    public async Task Sixty_four_concurrent_requests_are_all_answered_correctly_in_batches_larger_than_one()
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "32"), ("Batching:MaxWaitMs", "20"));
        var client = await host.ReadyClientAsync();
        var expected = new List<string>();
        foreach (var picture in Pictures) expected.Add(await CaptionOf(client, picture));

        var answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => CaptionOf(client, Pictures[i % Pictures.Length])));

        for (int i = 0; i < 64; i++) Assert.Equal(expected[i % Pictures.Length], answers[i]);
        Assert.Equal(64 + Pictures.Length, host.Count("captioner.requests", "outcome", "ok"));
        var steps = host.Points("captioner.batch.size").Single();
        double meanBatch = steps.GetHistogramSum() / steps.GetHistogramCount();
        Assert.True(meanBatch > 1.5, $"mean batch {meanBatch:F2} over {steps.GetHistogramCount()} steps");
        Assert.True(host.Points("captioner.tokens.generated").Single().GetSumLong() > 64);
        Assert.Equal(64 + Pictures.Length, host.Points("captioner.caption.duration").Single().GetHistogramCount());

        // Each request's span has the service's own spans as children.
        var spans = host.Spans();
        var request = spans.First(s => s.Kind == System.Diagnostics.ActivityKind.Server && s.DisplayName.Contains("/captions"));
        var children = spans.Where(s => s.ParentSpanId == request.SpanId).Select(s => s.DisplayName).ToHashSet();
        Assert.Superset(new HashSet<string> { "preprocess", "queue", "encode", "decode" }, children);
    }

    [Fact]
    public async Task A_greedy_caption_is_the_same_alone_and_in_a_batch_of_32_mixed_requests()
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "64"), ("Batching:MaxWaitMs", "500"));
        var client = await host.ReadyClientAsync();
        var target = Pictures[1];
        var alone = await CaptionOf(client, target, ("decoding", "greedy"));
        (string, string)[] seeded = [("decoding", "sample"), ("seed", "99"), ("temperature", "1.4"), ("max_tokens", "12")];
        var sampledAlone = await CaptionOf(client, target, seeded);

        (string, string)[][] others =
        [
            [("decoding", "sample"), ("temperature", "1.5")],
            [("decoding", "beam"), ("num_beams", "3")],
            [("decoding", "greedy"), ("max_tokens", "4")],
            [("decoding", "sample"), ("top_k", "5"), ("top_p", "0.8")],
            [("decoding", "greedy"), ("no_repeat_ngram_size", "2")],
            [("decoding", "beam"), ("num_beams", "2"), ("length_penalty", "0.5")],
        ];
        var batch = new List<Task<string>>();
        for (int i = 0; i < 32; i++)
        {
            batch.Add(i % 8 == 0 ? CaptionOf(client, target, ("decoding", "greedy"))
                : i % 8 == 4 ? CaptionOf(client, target, seeded)
                : CaptionOf(client, Pictures[i % Pictures.Length], others[i % others.Length]));
        }
        var answers = await Task.WhenAll(batch);

        for (int i = 0; i < 32; i += 8)
        {
            Assert.Equal(alone, answers[i]);
            Assert.Equal(sampledAlone, answers[i + 4]);
        }
        var steps = host.Points("captioner.batch.size").Single();
        Assert.True(steps.GetHistogramSum() / steps.GetHistogramCount() > 4, "the 32 requests did not share the batch");
    }

    [Fact]
    public async Task Batch_upload_answers_one_caption_per_image_in_order_and_names_a_bad_image()
    {
        await using var host = new ObservedHost();
        var client = await host.ReadyClientAsync();
        var singles = new List<string>();
        foreach (var picture in Pictures) singles.Add(await CaptionOf(client, picture));

        var form = new MultipartFormDataContent();
        foreach (var (picture, i) in Pictures.Select((p, i) => (p, i))) form.Add(new ByteArrayContent(picture), "images", $"picture{i}.png");
        var response = await client.PostAsync("/captions/batch", form);
        var answer = await Http.Json(response);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var captions = answer.GetProperty("captions").EnumerateArray().ToList();
        Assert.Equal(singles, captions.Select(c => c.GetProperty("caption").GetString()));
        Assert.All(captions, c => Assert.True(c.GetProperty("timings_ms").GetProperty("encode").GetDouble() > 0));

        var bad = new MultipartFormDataContent
        {
            { new ByteArrayContent(Pictures[0]), "images", "fine.png" },
            { new ByteArrayContent(Images.TruncatedPng()), "images", "broken.png" },
        };
        await Http.AssertProblem(await client.PostAsync("/captions/batch", bad), HttpStatusCode.BadRequest, "Image 2 ('broken.png')");
        var one = new MultipartFormDataContent { { new ByteArrayContent(Pictures[0]), "image", "a.png" } };
        await Http.AssertProblem(await client.PostAsync("/captions/batch", one), HttpStatusCode.BadRequest, "Unknown form field 'image'");
    }

    [Fact]
    public async Task A_full_queue_is_503_at_once_with_retry_after()
    {
        // A lone request waits up to MaxWaitMs in the queue for company: meanwhile the queue (1 place) is full.
        await using var host = new ObservedHost(("Batching:QueueCapacity", "1"), ("Batching:MaxBatchSize", "2"), ("Batching:MaxWaitMs", "3000"));
        var client = await host.ReadyClientAsync();
        var first = client.PostAsync("/captions", Http.Form(Pictures[0]));
        await host.WaitUntil(() => host.Scheduler.QueueDepth == 1, "the first request to be queued");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var refused = await client.PostAsync("/captions", Http.Form(Pictures[1]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"refused after {clock.Elapsed}");
        var problem = await Http.AssertProblem(refused, HttpStatusCode.ServiceUnavailable, "queue");
        Assert.Equal("queue-full", problem.GetProperty("reason").GetString());
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());

        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(1, host.Count("captioner.requests", "outcome", "queue-full"));
    }

    /// <summary>A random tiny model with 4096 positions: a caption of 4000 tokens keeps the only slot busy for seconds.</summary>
    private static string SlowCheckpoint()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("api-batching-").FullName, "slow");
        torch.manual_seed(11);
        using var model = new Captioner(Presets.Tiny with { MaxPositions = 4096 });
        Checkpoint.Save(model, dir);
        return dir;
    }

    /// <summary>A burst that arrives while a caption runs is encoded at most MaxAdmitPerStep images at a time (0: all
    /// that wait, at once), each admission EncoderBlocksPerStep ViT blocks between two steps (0: the whole encoder at
    /// once); into an empty batch, everything waiting is admitted together in one pass.</summary>
    [Theory]
    [InlineData(2, 1)]
    [InlineData(0, 0)]
    [InlineData(2, 0)]
    public async Task A_burst_arriving_while_captions_run_is_admitted_a_few_images_and_blocks_per_step(int maxAdmit, int blocksPerStep)
    {
        var checkpoint = SlowCheckpoint();
        try
        {
            await using var host = new ObservedHost(("Checkpoint", checkpoint), ("Batching:MaxBatchSize", "16"), ("Batching:MaxWaitMs", "0"),
                ("Batching:MaxTokens", "4000"), ("Batching:MaxAdmitPerStep", maxAdmit.ToString()),
                ("Batching:EncoderBlocksPerStep", blocksPerStep.ToString()));
            await host.ReadyClientAsync();
            var model = host.Factory.Services.GetRequiredService<Hosting.ModelHost>().Current!;
            float[] pixels = model.Pipeline.Preprocessor.ToChw(Pictures[0]);
            // The jobs' spans are children of this one (recorded, so they are sampled).
            using var burst = new System.Diagnostics.Activity("burst");
            burst.ActivityTraceFlags = System.Diagnostics.ActivityTraceFlags.Recorded;
            burst.Start();

            // A long caption keeps the batch running while the burst arrives.
            using var leave = new CancellationTokenSource();
            var hog = new CaptionJob(pixels, new DecodingOptions { MaxNewTokens = 4000, StopAtEos = false }, leave.Token);
            host.Scheduler.Submit(hog);
            await host.WaitUntil(() => host.Scheduler.ActiveSequences == 1, "the long caption to start");
            var jobs = Enumerable.Range(0, 9).Select(_ => new CaptionJob(pixels, new DecodingOptions { MaxNewTokens = 3 }, CancellationToken.None)).ToList();
            foreach (var job in jobs) host.Scheduler.Submit(job);
            await Task.WhenAll(jobs.Select(j => j.Completion));
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hog.Completion);

            var encodes = host.Spans().Where(s => s.DisplayName == "encode" && s.ParentSpanId == burst.SpanId)
                .Select(s => (Images: (int)s.GetTagItem("captioner.encode.images")!, Running: (int)s.GetTagItem("captioner.encode.running_rows")!,
                    Slices: (int)s.GetTagItem("captioner.encode.slices")!))
                .ToList();
            Assert.Equal(10, encodes.Count);
            Assert.Equal((1, 0, 1), encodes[0]);   // the hog, into an empty batch, in one pass
            var burstEncodes = encodes.Skip(1).ToList();
            Assert.All(burstEncodes, e => Assert.True(e.Running >= 1, "the burst was admitted while the long caption ran"));
            // The tiny model's ViT has 2 blocks: one per step, or both at once.
            Assert.All(burstEncodes, e => Assert.Equal(blocksPerStep == 1 ? 2 : 1, e.Slices));
            int largest = burstEncodes.Max(e => e.Images);
            if (maxAdmit > 0)
                Assert.True(largest <= maxAdmit, $"{largest} images encoded in one admission: {string.Join(", ", burstEncodes)}");
            else
                Assert.True(largest > 2, $"without a limit the queued burst should be encoded together: {string.Join(", ", burstEncodes)}");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(checkpoint)!, recursive: true);
        }
    }

    /// <summary>A client that leaves while its image is part-way through the encoder (staged, a block per step) is
    /// dropped there: it never joins the batch, and the newcomer staged with it joins alone with its own caption.</summary>
    [Fact]
    public async Task A_request_whose_client_leaves_while_its_image_is_being_encoded_never_joins()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("api-batching-").FullName, "deep");
        try
        {
            // 200 ViT blocks, one per step: staging takes 200 steps, time enough to leave in the middle.
            torch.manual_seed(11);
            using (var deep = new Captioner(Presets.Tiny with { MaxPositions = 4096, EncoderLayers = 200, CrossAttention = CrossAttentionMode.Final }))
                Checkpoint.Save(deep, dir);
            await using var host = new ObservedHost(("Checkpoint", dir), ("Batching:MaxBatchSize", "8"), ("Batching:MaxWaitMs", "0"),
                ("Batching:MaxTokens", "4000"), ("Batching:MaxAdmitPerStep", "2"), ("Batching:EncoderBlocksPerStep", "1"));
            var client = await host.ReadyClientAsync();
            var model = host.Factory.Services.GetRequiredService<Hosting.ModelHost>().Current!;
            using var burst = new System.Diagnostics.Activity("leaving");
            burst.ActivityTraceFlags = System.Diagnostics.ActivityTraceFlags.Recorded;
            burst.Start();

            using var leave = new CancellationTokenSource();
            var hog = new CaptionJob(model.Pipeline.Preprocessor.ToChw(Pictures[0]), new DecodingOptions { MaxNewTokens = 4000, StopAtEos = false }, leave.Token);
            host.Scheduler.Submit(hog);
            await host.WaitUntil(() => host.Scheduler.ActiveSequences == 1, "the long caption to start");

            using var giveUp = new CancellationTokenSource();
            var leaving = new CaptionJob(model.Pipeline.Preprocessor.ToChw(Pictures[1]), new DecodingOptions { MaxNewTokens = 3 }, giveUp.Token);
            var staying = new CaptionJob(model.Pipeline.Preprocessor.ToChw(Pictures[2]), new DecodingOptions { MaxNewTokens = 3 }, CancellationToken.None);
            host.Scheduler.Submit(leaving);
            host.Scheduler.Submit(staying);
            await host.WaitUntil(() => host.Scheduler.StagedRequests == 2, "both images to be staged");
            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.Completion);
            Assert.Equal(1, host.Scheduler.StagedRequests);   // dropped from the encoder, not after joining
            var caption = await staying.Completion;
            Assert.Equal(0, host.Scheduler.StagedRequests);
            // The long caption alone again (the scheduler drops the finished row just after answering it).
            await host.WaitUntil(() => host.Scheduler.ActiveSequences == 1, "the finished caption's row to go");

            var encodes = host.Spans().Where(s => s.DisplayName == "encode" && s.ParentSpanId == burst.SpanId)
                .Select(s => (int)s.GetTagItem("captioner.encode.images")!).ToList();
            Assert.Equal([1, 1], encodes);                     // the hog's, then the staying image's alone

            // The staying image's caption is the one it gets on its own.
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hog.Completion);
            var alone = new CaptionJob(model.Pipeline.Preprocessor.ToChw(Pictures[2]), new DecodingOptions { MaxNewTokens = 3 }, CancellationToken.None);
            host.Scheduler.Submit(alone);
            Assert.Equal((await alone.Completion).Sequence.Tokens, caption.Sequence.Tokens);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Fact]
    public async Task A_cancelled_request_leaves_and_frees_its_slot_and_a_request_past_its_time_gets_503()
    {
        var checkpoint = SlowCheckpoint();
        try
        {
            await using var host = new ObservedHost(("Checkpoint", checkpoint), ("Batching:MaxBatchSize", "1"), ("Batching:MaxWaitMs", "0"),
                ("Batching:MaxTokens", "4000"), ("Batching:RequestTimeoutSeconds", "0.5"));
            var client = await host.ReadyClientAsync();
            var model = host.Factory.Services.GetRequiredService<Hosting.ModelHost>().Current!;
            float[] pixels = model.Pipeline.Preprocessor.ToChw(Pictures[0]);

            // A long caption (4000 tokens, no end token) takes the only slot.
            using var leave = new CancellationTokenSource();
            var hog = new CaptionJob(pixels, new DecodingOptions { MaxNewTokens = 4000, StopAtEos = false }, leave.Token);
            host.Scheduler.Submit(hog);
            await host.WaitUntil(() => host.Scheduler.ActiveSequences == 1, "the long caption to start");

            // Behind it, a request runs out of time in the queue: 503.
            var late = await client.PostAsync("/captions", Http.Form(Pictures[1]));
            var problem = await Http.AssertProblem(late, HttpStatusCode.ServiceUnavailable, "within 0.5 s");
            Assert.Equal("timeout", problem.GetProperty("reason").GetString());

            // A client that gives up while queued (once the timed-out job has left the queue).
            await host.WaitUntil(() => host.Scheduler.QueueDepth == 0, "the timed-out request to leave the queue");
            using var giveUp = new CancellationTokenSource();
            var abandoned = client.PostAsync("/captions", Http.Form(Pictures[2]), giveUp.Token);
            await host.WaitUntil(() => host.Scheduler.QueueDepth == 1, "the request to be queued");
            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
            await host.WaitUntil(() => host.Count("captioner.requests", "outcome", "cancelled") == 1, "the abandoned request to be counted");

            // The long caption's owner leaves: its sequence leaves the batch at the next step...
            Assert.False(hog.Completion.IsCompleted, $"{hog.Completion.Status} {hog.Completion.Exception}");
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hog.Completion);
            await host.WaitUntil(() => host.Scheduler.ActiveSequences == 0, "the slot to be freed");

            // ...and the slot serves the next request.
            await CaptionOf(client, Pictures[3], ("max_tokens", "3"));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(checkpoint)!, recursive: true);
        }
    }

    [Fact]
    public async Task Stopping_finishes_what_was_queued_and_refuses_new_work()
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "4"), ("Batching:MaxWaitMs", "200"));
        var client = await host.ReadyClientAsync();
        var model = host.Factory.Services.GetRequiredService<Hosting.ModelHost>().Current!;
        var jobs = Enumerable.Range(0, 10).Select(i => new CaptionJob(model.Pipeline.Preprocessor.ToChw(Pictures[i % 4]),
            model.Config.Decoding, CancellationToken.None)).ToList();
        foreach (var job in jobs) host.Scheduler.Submit(job);

        await host.Scheduler.StopAsync(CancellationToken.None);

        Assert.All(jobs, j => Assert.True(j.Completion.IsCompletedSuccessfully));
        Assert.Throws<ShuttingDownException>(() => host.Scheduler.Submit(new CaptionJob(jobs[0].Image, model.Config.Decoding, default)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        var problem = await Http.AssertProblem(await client.PostAsync("/captions", Http.Form(Pictures[0])), HttpStatusCode.ServiceUnavailable, "shutting down");
        Assert.Equal("shutting-down", problem.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Metrics_are_served_to_prometheus()
    {
        await using var host = new ObservedHost();
        var client = await host.ReadyClientAsync();
        await CaptionOf(client, Pictures[0]);
        var text = await client.GetStringAsync("/metrics");
        Assert.Contains("captioner_requests_total{", text);
        Assert.Contains("outcome=\"ok\"", text);
        Assert.Contains("captioner_queue_depth", text);
        // .NET's own meter, for telling managed from native memory growth (the soak reads the first).
        Assert.Contains("dotnet_gc_last_collection_memory_committed_size_bytes{", text);
        Assert.Contains("dotnet_process_memory_working_set_bytes{", text);
        Assert.Contains("captioner_batch_size_bucket", text);
        Assert.Contains("captioner_caption_duration_seconds_bucket", text);
        Assert.Contains("captioner_tokens_generated_total", text);
    }
}
