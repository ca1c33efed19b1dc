using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// The Dockerfile's build stage, run without Docker: a folder gets exactly what the build stage's
/// COPY lines copy (minus .dockerignore), its RUN lines (restore, publish of the Api and the captioner
/// tool) run there with TORCH_BACKEND=cpu and APP_DIR pointing to a local folder, and the published
/// service is then started (from another working directory than the app folder, which the image's CMD
/// uses, so that the content root is shown to be found either way) and must get ready, pass the image's health check script, serve the page and caption.
/// What this does not cover: the base images, the CUDA backend, the runtime stage's own lines.
/// </summary>
public class DockerBuildStageTests
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task The_build_stage_publishes_a_service_that_gets_ready_and_a_captioner_that_runs()
    {
        var dockerfile = new Dockerfile(Repo.PathOf("Dockerfile"));
        var ignore = new DockerIgnore(Repo.PathOf(".dockerignore"));
        var root = Repo.FreshArtifactsDir("docker-build-stage");
        var rootfs = Path.Combine(root, "rootfs");
        var log = Path.Combine(root, "build.log");
        var app = Path.Combine(rootfs, "app");

        var env = dockerfile.ArgDefaults("build");
        env["TORCH_BACKEND"] = "cpu";
        env["APP_DIR"] = app;
        foreach (var (key, value) in dockerfile.Env("build")) env[key] = value;

        string workdir = rootfs;
        foreach (var step in dockerfile.In("build"))
        {
            switch (step.Keyword)
            {
                case "WORKDIR":
                    workdir = Path.Combine(rootfs, step.Arguments.TrimStart('/'));
                    Directory.CreateDirectory(workdir);
                    break;
                case "COPY":
                    var (flags, words) = step.Split();
                    Assert.False(flags.ContainsKey("from"), $"line {step.Line}: COPY --from in the build stage is not emulated");
                    var dest = words[^1].StartsWith('/') ? Path.Combine(rootfs, words[^1].TrimStart('/')) : Path.Combine(workdir, words[^1]);
                    foreach (var source in words[..^1]) Copy(source, dest, intoFolder: words[^1].EndsWith('/') || words.Count > 2, ignore);
                    break;
                case "RUN":
                    File.AppendAllText(log, $"\n[test] Dockerfile line {step.Line}: RUN {step.Arguments}\n");
                    var rc = await Repo.RunShellAsync(step.Arguments, workdir, log, StepTimeout, env);
                    Assert.True(rc == 0, $"Dockerfile line {step.Line} failed ({rc}): RUN {step.Arguments}\n{Repo.Tail(log)}");
                    break;
            }
        }

        foreach (var file in new[] { "CaptionService.Api.dll", "captioner.dll", "wwwroot/index.html", "wwwroot/app.js", "wwwroot/app.css",
                     "checkpoints/demo-shapes/config.json", "checkpoints/demo-shapes/model.safetensors", "libLibTorchSharp.so", "libtorch_cpu.so",
                     "libcaptioner_mkl_intel_path.so" }) // this machine has a C compiler, as the build stage makes sure
            Assert.True(File.Exists(Path.Combine(app, file)), $"{file} is missing from the publish folder {app}");

        // The captioner tool from the same folder.
        var toolLog = Path.Combine(root, "captioner.log");
        Assert.Equal(0, await Repo.RunShellAsync("dotnet captioner.dll inspect --preset tiny --device cpu", app, toolLog, TimeSpan.FromMinutes(2)));
        Assert.Contains("total: 3467648", File.ReadAllText(toolLog));

        await RunService(app, root);
    }

    private static async Task RunService(string app, string root)
    {
        int port = Repo.FreeLoopbackPort();
        var log = Path.Combine(root, "service.log");
        var serviceEnv = new Dictionary<string, string>
        {
            ["ASPNETCORE_HTTP_PORTS"] = port.ToString(),
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Captioner__Device"] = "cpu",
            ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "60",
        };
        // `exec`: the process we hold is dotnet itself, so that SIGTERM reaches the host.
        // Started from another folder than the app's: the content root (settings, the page) is the app folder wherever it starts.
        using var service = Repo.StartShell($"exec dotnet '{Path.Combine(app, "CaptionService.Api.dll")}'", root, log, serviceEnv);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(service.HasExited, $"the published service exited ({(service.HasExited ? service.ExitCode : 0)}):\n{Repo.Tail(log)}");
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

            // The image's own health check script, against this service.
            var checkLog = Path.Combine(root, "healthcheck.log");
            var check = await Repo.RunShellAsync($"'{Repo.PathOf("deploy/docker/healthcheck")}'", app, checkLog, TimeSpan.FromSeconds(20),
                new Dictionary<string, string> { ["ASPNETCORE_HTTP_PORTS"] = port.ToString() });
            Assert.True(check == 0, $"deploy/docker/healthcheck failed against a ready service:\n{Repo.Tail(checkLog)}");

            var page = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<title>CaptionService</title>", await page.Content.ReadAsStringAsync());

            using var form = new MultipartFormDataContent();
            var image = new ByteArrayContent(TestImages.Circle(48, 48, 230, 40, 40));
            image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(image, "image", "circle.png");
            var answer = await http.PostAsync("/captions", form);
            var body = await answer.Content.ReadAsStringAsync();
            Assert.True(answer.StatusCode == HttpStatusCode.OK, body);
            Assert.False(string.IsNullOrWhiteSpace(JsonDocument.Parse(body).RootElement.GetProperty("caption").GetString()));

            // SIGTERM: the host stops (draining what is in flight) and the process ends by itself.
            Process.Start("kill", ["-TERM", service.Id.ToString()])!.WaitForExit();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(70));
            await service.WaitForExitAsync(stop.Token);
            Assert.Contains("Application is shutting down", File.ReadAllText(log));
        }
        finally
        {
            if (!service.HasExited) service.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Docker's COPY: a folder's contents go into the destination folder; a file into it (or to it).</summary>
    private static void Copy(string source, string dest, bool intoFolder, DockerIgnore ignore)
    {
        var from = Repo.PathOf(source.TrimEnd('/'));
        if (File.Exists(from))
        {
            var target = intoFolder ? Path.Combine(dest, Path.GetFileName(from)) : dest;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(from, target, overwrite: true);
            return;
        }
        Assert.True(Directory.Exists(from), $"{source} does not exist");
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(Repo.Root, file).Replace('\\', '/');
            if (ignore.Excludes(relative)) continue;
            var target = Path.Combine(dest, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
