using System.Net;
using CaptionService.Api.Intake;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Api.Tests;

/// <summary>What an upload may cost before it is admitted: decoding runs on a bounded pool within a
/// memory budget, and what does not fit waits briefly, then gets 503. A test-sized reproduction of a
/// burst of decompression bombs (the full-sized one, with resident memory, is in docs/benchmarks.md).</summary>
[Collection(BatchingTests.Name)]
public class IntakeTests
{
    /// <summary>A single-colour PNG: a few kilobytes that decode to <paramref name="side"/>² pixels.</summary>
    private static byte[] Bomb(int side) => Images.Png(side, side, (_, _) => new Rgb24(200, 30, 30));

    [Fact]
    public async Task A_burst_of_decompression_bombs_is_decoded_within_the_budget_the_rest_get_503_and_a_good_request_is_answered()
    {
        const int side = 2100, bombs = 16;                       // 4.4 MP each (over DecodeGate.SmallPixels): 22 MB to decode as a PNG
        await using var host = new ObservedHost(("MaxPixels", "5000000"), ("MaxUploadBytes", "1000000"),
            ("DecodeConcurrency", "1"), ("DecodeMemoryMegabytes", "70"), ("DecodeWaitMs", "100"));
        var client = await host.ReadyClientAsync();
        var gate = host.Factory.Services.GetRequiredService<DecodeGate>();
        var bomb = Bomb(side);
        Assert.True(bomb.Length < 100_000, $"{bomb.Length} bytes");
        Task<HttpResponseMessage[]> Burst() =>
            Task.WhenAll(Enumerable.Range(0, bombs).Select(_ => client.PostAsync("/captions", Http.Form(bomb, ("max_tokens", "2")))));

        // While a large decode holds the only shared place (as a slow one would), every bomb of a burst
        // waits its 100 ms and gets 503, whatever this machine's speed; an ordinary photo still goes
        // through on the place kept for small images.
        var busy = new List<HttpResponseMessage>();
        using (var hog = await gate.EnterAsync(40L << 20, 10_000_000, default))
        {
            Assert.NotNull(hog);
            var burst = Burst();
            var good = client.PostAsync("/captions", Http.Form(Images.Png(40, 30), ("max_tokens", "5")));
            Assert.Equal(HttpStatusCode.OK, (await good).StatusCode);
            busy.AddRange(await burst);
        }
        foreach (var refused in busy)
        {
            var problem = await Http.AssertProblem(refused, HttpStatusCode.ServiceUnavailable, "decode");
            Assert.Equal("decode-busy", problem.GetProperty("reason").GetString());
            Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        }

        // With the place free, a burst is decoded one at a time within the budget: the first is answered,
        // and each of the rest is answered or, if its wait ran out, refused with 503 (how many depends on
        // how fast this machine decodes).
        var answers = await Burst();
        var statuses = answers.Select(a => a.StatusCode).ToList();
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, s.ToString()));
        Assert.Contains(HttpStatusCode.OK, statuses);
        busy.AddRange(answers.Where(a => a.StatusCode == HttpStatusCode.ServiceUnavailable));

        // Never more decodes at once than the pool has places (one, and the one kept for small images),
        // never more memory than the budget, and nothing held once the burst is over.
        var (peakRunning, peakBytes) = gate.Peak;
        Assert.InRange(peakRunning, 1, gate.Places + 1);
        Assert.InRange(peakBytes, (40L << 20) + 1, gate.BudgetBytes);
        Assert.Equal(0, gate.Running);
        Assert.Equal(0, gate.ReservedBytes);
        Assert.Equal(busy.Count, host.Count("captioner.requests", "outcome", "decode-busy"));
    }

    [Fact]
    public async Task The_gate_serves_small_images_first_and_keeps_a_place_for_them()
    {
        var gate = new DecodeGate(Microsoft.Extensions.Options.Options.Create(new Options.CaptionerOptions
        {
            DecodeConcurrency = 1,
            DecodeMemoryMegabytes = 100,
            DecodeWaitMs = 5000,
        }));
        const long MB = 1 << 20;
        using var big = await gate.EnterAsync(60 * MB, 10_000_000, default);
        Assert.NotNull(big);

        // The only shared place is taken: a small image still gets the place kept for small ones...
        using (var small = await gate.EnterAsync(1 * MB, 100_000, default)) Assert.NotNull(small);

        // ...a second big one waits for memory and a place, and small ones that come later go first.
        var waitingBig = gate.EnterAsync(50 * MB, 10_000_000, default);
        var smallTaken = await gate.EnterAsync(1 * MB, 100_000, default);
        var waitingSmall = gate.EnterAsync(2 * MB, 100_000, default);
        Assert.False(waitingBig.IsCompleted);
        Assert.False(waitingSmall.IsCompleted);
        smallTaken!.Dispose();
        using (var next = await waitingSmall) Assert.NotNull(next);
        Assert.False(waitingBig.IsCompleted);
        big!.Dispose();
        using (var last = await waitingBig) Assert.NotNull(last);
        Assert.Equal((2, 62 * MB), gate.Peak);

        // Over the wait: null (503), and nothing stays reserved.
        var quick = new DecodeGate(Microsoft.Extensions.Options.Options.Create(new Options.CaptionerOptions
        {
            DecodeConcurrency = 1,
            DecodeMemoryMegabytes = 100,
            DecodeWaitMs = 50,
        }));
        using var hog = await quick.EnterAsync(90 * MB, 10_000_000, default);
        Assert.Null(await quick.EnterAsync(20 * MB, 10_000_000, default));
        Assert.Equal(90 * MB, quick.ReservedBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => quick.EnterAsync(200 * MB, 1, default).GetAwaiter().GetResult());
    }
}
