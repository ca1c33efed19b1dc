using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// The built service (src/Api/bin/CONFIG/net10.0/CaptionService.Api.dll, what `dotnet build` makes) started
/// from another folder, as a newcomer starts it: it must serve the page and favicon, read its appsettings.json
/// (single-line console logs with a time, no per-request Information logs) and log a normal start (no fail:).
/// The published folder is tested the same way by <see cref="DockerBuildStageTests"/>.
/// </summary>
public partial class BuiltServiceTests
{
    [Fact]
    public async Task The_built_service_started_from_another_folder_serves_the_page_and_reads_its_settings()
    {
        // This test's own configuration (Debug under dotnet test) is the one its ProjectReference built src/Api in.
        string configuration = Path.GetFileName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)))!;
        string dll = Repo.PathOf($"src/Api/bin/{configuration}/net10.0/CaptionService.Api.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");

        var elsewhere = Repo.FreshArtifactsDir("built-service");
        var log = Path.Combine(elsewhere, "service.log");
        int port = Repo.FreeLoopbackPort();
        using var service = Repo.StartShell($"exec dotnet '{dll}' --urls http://127.0.0.1:{port}", elsewhere, log,
            new Dictionary<string, string> { ["Captioner__Device"] = "cpu" });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(service.HasExited, $"the built service exited:\n{Repo.Tail(log)}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"not ready after 2 minutes:\n{Repo.Tail(log)}");
                try
                {
                    if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                await Task.Delay(200);
            }

            var page = await http.GetAsync("/");
            Assert.True(page.StatusCode == HttpStatusCode.OK, $"GET / answered {(int)page.StatusCode}:\n{Repo.Tail(log)}");
            Assert.Contains("<title>CaptionService</title>", await page.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/favicon.svg")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/swagger/index.html")).StatusCode);
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            await service.WaitForExitAsync();
        }

        var lines = File.ReadAllLines(log).Where(l => l.Length > 0).ToList();
        // appsettings.json: the simple console formatter, one line per entry with "HH:mm:ss " first...
        Assert.Contains(lines, l => TimedInfo().IsMatch(l) && l.Contains("Model ready"));
        // ...and Microsoft.AspNetCore at Warning: no "Request starting" line for each request above.
        Assert.DoesNotContain(lines, l => l.Contains("Request starting"));
        // A normal start logs no failure.
        Assert.DoesNotContain(lines, l => l.Contains("fail:") || l.Contains("crit:"));
    }

    [GeneratedRegex(@"^\d\d:\d\d:\d\d info: ")]
    private static partial Regex TimedInfo();
}
