namespace CaptionService.Deploy.Tests;

/// <summary>/metrics as Prometheus's own linter sees it (`promtool check metrics`, Debian's prometheus package),
/// after caption requests of every kind have filled in its counters and histograms.</summary>
public class PromtoolTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static void RequirePromtool() =>
        ExternalTools.Require(ExternalTools.Which("promtool") is null ? "promtool is missing (apt-get install -y prometheus)" : null);

    private static Task<(int ExitCode, string Output, string Errors)> Check(string exposition) =>
        ExternalTools.RunWithInputAsync("promtool", Path.GetTempPath(), Timeout, exposition, "check", "metrics");

    [SkippableFact]
    public async Task Promtool_finds_nothing_to_say_about_the_services_metrics()
    {
        RequirePromtool();
        await using var service = await BrowserFixture.StartServiceAsync();
        var picture = TestImages.Circle(32, 32, 30, 30, 200);
        var ok = await service.Http.PostAsync("/captions", new MultipartFormDataContent { { new ByteArrayContent(picture), "image", "a.png" } });
        Assert.True(ok.IsSuccessStatusCode);
        await service.Http.PostAsync("/captions", new MultipartFormDataContent { { new ByteArrayContent([1, 2, 3]), "image", "bad.png" } });
        await service.Http.PostAsync("/", new ByteArrayContent(picture));

        var metrics = await service.Http.GetStringAsync("/metrics");
        Assert.Contains("captioner_", metrics);
        var (exit, output, errors) = await Check(metrics);
        Assert.True(exit == 0 && output.Trim().Length == 0 && errors.Trim().Length == 0, $"promtool exited {exit}: {output}{errors}");
    }

    [SkippableFact]
    public async Task Promtool_does_complain_about_a_badly_named_counter()
    {
        RequirePromtool();
        var (exit, output, errors) = await Check("# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n");
        Assert.NotEqual(0, exit);
        Assert.Contains("_total", output + errors);
    }
}
