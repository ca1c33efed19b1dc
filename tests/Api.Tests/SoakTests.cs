using CaptionService.LoadTest;

namespace CaptionService.Api.Tests;

/// <summary>The short version of <c>load-test soak</c> (the full one is in docs/benchmarks.md): the
/// built service in its own process, good clients checked caption by caption, with and without every
/// kind of hostile request. Asserts on what happened, not on timings.</summary>
public class SoakTests
{
    /// <summary>What each hostile case may be answered with (503: the service is busy, also fine).</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["extreme decoding options"] = ["400", "200"],
        ["decompression bomb"] = ["200"],
        ["truncated image"] = ["400"],
        ["malformed multipart body"] = ["400"],
        ["upload that stalls half-way"] = ["408"],
        ["client that disconnects mid-caption"] = ["left before the answer", "200"],
        ["12 wrong API keys"] = ["401", "429"],
        ["no API key"] = ["401", "429"],
        ["burst of 60 at once"] = ["200", "429"],
        ["declared body of 1 GB"] = ["413"],
        ["unknown form field"] = ["400"],
    };

    [Fact]
    public async Task Good_requests_never_fail_among_hostile_ones_and_nothing_is_left_behind()
    {
        var api = Path.Combine(AppContext.BaseDirectory, "CaptionService.Api.dll");
        var report = await Soak.RunAsync(new SoakOptions(api, BaselineSeconds: 3, MixedSeconds: 15, GoodClients: 3, HostileClients: 4,
            BombSide: 3000, IdleSeconds: 2), _ => { }, CancellationToken.None);

        Assert.True(report.Baseline.Answered > 0 && report.Mixed.Answered > 0, $"{report.Baseline} {report.Mixed}");
        Assert.True(report.Baseline.Failed == 0 && report.Mixed.Failed == 0, string.Join("\n", report.Failures));
        Assert.Equal(0, report.LiveTensorsAtEnd);
        // The memory at the end, the managed heap's share read from the service's own /metrics.
        var end = Assert.Single(report.Memory, m => m.Phase == "end");
        Assert.True(end.ResidentMiB > end.ManagedMiB && end.ManagedMiB > 0, end.ToString());
        Assert.True(report.Hostile.Count >= 8, $"only {report.Hostile.Count} hostile cases ran: {string.Join(", ", report.Hostile.Keys)}");
        foreach (var (name, answers) in report.Hostile)
        {
            var allowed = Allowed.Single(a => name.StartsWith(a.Key, StringComparison.Ordinal)).Value;
            foreach (var answer in answers.Keys)
                Assert.True(allowed.Contains(answer) || answer == "503", $"{name}: {answer} x {answers[answer]}");
        }
        Assert.True(report.Passed, report.Markdown);
    }
}
