using System.Net;
using System.Text.Json;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Model;
using CaptionService.Model.Generation;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Api.Tests;

/// <summary>One request can only ever fail itself: its options, its image, or a failure of the model
/// it causes never reach the others in its batch, and the scheduler goes on serving. Runs alone
/// (the batching collection): it reads the scheduler's state and the shared meter.</summary>
[Collection(BatchingTests.Name)]
public class IsolationTests
{
    private static readonly byte[][] Pictures =
    [
        Images.Png(40, 30),
        Images.Png(32, 32, (x, y) => (x - 16) * (x - 16) + (y - 16) * (y - 16) < 80 ? new Rgb24(220, 30, 30) : new Rgb24(240, 240, 240)),
        Images.Png(48, 48, (x, y) => x > 10 && x < 30 && y > 12 && y < 34 ? new Rgb24(30, 60, 220) : new Rgb24(20, 20, 20)),
    ];

    /// <summary>Good requests of every strategy, on different pictures.</summary>
    private static readonly (byte[] Image, (string, string)[] Fields)[] Good =
    [
        (Pictures[0], [("decoding", "greedy")]),
        (Pictures[1], [("decoding", "sample"), ("seed", "42"), ("temperature", "1.3"), ("max_tokens", "12")]),
        (Pictures[2], [("decoding", "beam"), ("num_beams", "3")]),
        (Pictures[1], [("decoding", "greedy"), ("no_repeat_ngram_size", "2"), ("max_tokens", "15")]),
        (Pictures[0], [("decoding", "sample"), ("seed", "7"), ("top_p", "0.8"), ("top_k", "20")]),
        (Pictures[2], [("decoding", "beam"), ("num_beams", "2"), ("length_penalty", "0.5")]),
    ];

    /// <summary>The culprit's mark: greedy decoding ignores the seed, so it changes nothing else about the request.</summary>
    private const long Poison = 666;

    private static async Task<(HttpStatusCode Status, string Body)> Post(HttpClient client, byte[] image, params (string, string)[] fields)
    {
        using var response = await client.PostAsync("/captions", Http.Form(image, fields));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string CaptionIn(string body) => JsonDocument.Parse(body).RootElement.GetProperty("caption").GetString()!;

    [Theory]
    [InlineData(FaultPoint.Step)]
    [InlineData(FaultPoint.Admission)]
    public async Task A_request_the_model_fails_with_gets_500_and_every_other_request_its_caption_from_alone(FaultPoint where)
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "64"), ("Batching:MaxWaitMs", "50"));
        var client = await host.ReadyClientAsync();
        var alone = new List<string>();
        foreach (var (image, fields) in Good) alone.Add(CaptionIn((await Post(client, image, fields)).Body));
        var model = host.Factory.Services.GetRequiredService<ModelHost>().Current!.Pipeline.Model;

        using (FaultInjection.FailWhen(model, o => o.Seed == Poison, where))
        {
            // The good requests start; once their batch runs, two culprits join it (and more good ones).
            var good = Enumerable.Range(0, 3).SelectMany(_ => Good).Select(g => Post(client, g.Image, g.Fields)).ToList();
            await host.WaitUntil(() => host.Scheduler.ActiveSequences > 0, "the batch to run");
            var culprits = new[] { Post(client, Pictures[0], ("decoding", "greedy"), ("seed", "666")), Post(client, Pictures[2], ("seed", "666"), ("max_tokens", "30")) };
            good.AddRange(Good.Select(g => Post(client, g.Image, g.Fields)));

            foreach (var culprit in culprits)
            {
                var (status, body) = await culprit;
                Assert.True(status == HttpStatusCode.InternalServerError, body);
                Assert.Contains("\"reason\":\"error\"", body);
                Assert.DoesNotContain("injected", body);
                Assert.DoesNotContain("   at ", body);
            }
            var answers = await Task.WhenAll(good);
            for (int i = 0; i < answers.Length; i++)
            {
                Assert.True(answers[i].Status == HttpStatusCode.OK, answers[i].Body);
                Assert.Equal(alone[i % Good.Length], CaptionIn(answers[i].Body));
            }
        }
        // The scheduler goes on serving.
        Assert.True(host.Scheduler.IsRunning);
        Assert.Equal(alone[0], CaptionIn((await Post(client, Good[0].Image, Good[0].Fields)).Body));
        Assert.Equal(2, host.Count("captioner.requests", "outcome", "error"));
    }

    public static TheoryData<string, string> ExtremeFields()
    {
        string[] values =
        [
            "0", "-0", "-0.0", "4.9e-324", "1e-310", "1e-300", "1e-38", "0.01", "1", "100", "1e300", "1e309", "-1e309", "NaN", "Infinity",
            "-Infinity", "2147483647", "2147483648", "-2147483649", "9223372036854775808", "99999999999999999999", "-1", "0x10", "1_000", " 3 ",
        ];
        var data = new TheoryData<string, string>();
        foreach (var field in new[] { "temperature", "top_p", "top_k", "seed", "num_beams", "length_penalty", "max_tokens", "no_repeat_ngram_size" })
            foreach (var value in values) data.Add(field, value);
        return data;
    }

    /// <summary>The strategy an option matters for, a fixed seed for sampling, and short captions.</summary>
    private static (string, string)[] Fields(string field, string value) =>
    [
        ("decoding", field is "num_beams" or "length_penalty" ? "beam" : field is "max_tokens" or "no_repeat_ngram_size" ? "greedy" : "sample"),
        .. field == "max_tokens" ? Array.Empty<(string, string)>() : [("max_tokens", "4")],
        .. field is "temperature" or "top_p" or "top_k" ? [("seed", "5")] : Array.Empty<(string, string)>(),
        (field, value),
    ];

    [Fact]
    public async Task Every_option_at_every_extreme_value_gets_200_or_a_400_naming_it_alone_and_inside_a_batch()
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "64"), ("Batching:MaxWaitMs", "100"), ("Batching:QueueCapacity", "1024"));
        var client = await host.ReadyClientAsync();
        var cases = ExtremeFields().Select(row => ((string)row[0], (string)row[1])).ToList();

        // Alone, one at a time.
        var alone = new Dictionary<(string, string), (HttpStatusCode Status, string Body)>();
        foreach (var (field, value) in cases)
        {
            var answer = await Post(client, Pictures[1], Fields(field, value));
            Assert.True(answer.Status is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{field}={value}: {answer.Status} {answer.Body}");
            if (answer.Status == HttpStatusCode.BadRequest)
            {
                var problem = JsonDocument.Parse(answer.Body).RootElement;
                Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{field}={value}: {answer.Body}");
            }
            alone[(field, value)] = answer;
        }
        Assert.Contains(alone.Values, a => a.Status == HttpStatusCode.OK);
        Assert.Contains(alone.Values, a => a.Status == HttpStatusCode.BadRequest);

        // All at once, with good requests among them: the same answers (seeded sampling included).
        var together = cases.Select(c => Post(client, Pictures[1], Fields(c.Item1, c.Item2))).ToList();
        var good = Enumerable.Range(0, 8).Select(_ => Post(client, Good[0].Image, Good[0].Fields)).ToList();
        var answers = await Task.WhenAll(together);
        for (int i = 0; i < cases.Count; i++)
        {
            var expected = alone[cases[i]];
            Assert.True(expected.Status == answers[i].Status, $"{cases[i]}: alone {expected.Status}, in a batch {answers[i].Status} {answers[i].Body}");
            if (expected.Status == HttpStatusCode.OK) Assert.Equal(CaptionIn(expected.Body), CaptionIn(answers[i].Body));
        }
        var steps = host.Points("captioner.batch.size").Single();
        Assert.True(steps.GetHistogramSum() / steps.GetHistogramCount() > 2, "the requests did not share batches");
        var first = CaptionIn((await good[0]).Body);
        Assert.All(await Task.WhenAll(good), g => Assert.Equal(first, CaptionIn(g.Body)));
        Assert.Equal(0, host.Count("captioner.requests", "outcome", "error"));
    }

    [Fact]
    public async Task Options_that_reach_the_scheduler_unchecked_fail_only_their_own_job_as_the_clients_mistake()
    {
        await using var host = new ObservedHost(("Batching:MaxBatchSize", "8"), ("Batching:MaxWaitMs", "50"), ("Batching:MaxTokens", "16"));
        var client = await host.ReadyClientAsync();
        var loaded = host.Factory.Services.GetRequiredService<ModelHost>().Current!;
        float[] pixels = loaded.Pipeline.Preprocessor.ToChw(Pictures[2]);
        var greedy = loaded.Config.Decoding with { MaxNewTokens = 10 };
        var alone = new CaptionJob(pixels, greedy, default);
        host.Scheduler.Submit(alone);
        var expected = (await alone.Completion).Sequence.Tokens;

        // Straight to the scheduler, past the form's checks: values no client can send through HTTP.
        DecodingOptions[] bad =
        [
            greedy with { Strategy = DecodingStrategy.Sample, Temperature = 1e-300 },
            greedy with { Strategy = DecodingStrategy.Sample, TopP = double.NaN },
            greedy with { Strategy = DecodingStrategy.Beam, LengthPenalty = double.PositiveInfinity },
            greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 1000 },                      // more rows than the batch has: refused, not stalled
            greedy with { MaxNewTokens = 100_000 },                                                 // more tokens than the cache holds
            greedy with { NoRepeatNgramSize = -5 },
        ];
        var goodJobs = Enumerable.Range(0, 6).Select(_ => new CaptionJob(pixels, greedy, default)).ToList();
        var badJobs = bad.Select(o => new CaptionJob(pixels, o, default)).ToList();
        foreach (var (good, worse) in goodJobs.Zip(badJobs)) { host.Scheduler.Submit(good); host.Scheduler.Submit(worse); }

        foreach (var (job, options) in badJobs.Zip(bad))
        {
            var e = await Assert.ThrowsAsync<DecodingOptionsException>(() => job.Completion);
            Assert.NotEmpty(e.Problems);
        }
        foreach (var job in goodJobs) Assert.Equal(expected, (await job.Completion).Sequence.Tokens);
        Assert.True(host.Scheduler.IsRunning);
        Assert.Equal(HttpStatusCode.OK, (await Post(client, Pictures[0], ("max_tokens", "3"))).Status);
    }
}
