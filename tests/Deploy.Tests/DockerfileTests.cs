using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// What can be checked of the Dockerfile without a Docker engine (there is none on the development
/// and CI machines): every COPY source exists and is not excluded from the build context, the publish
/// commands name real projects, and the runtime stage is what the issue asks for. The build stage's
/// commands themselves run in <see cref="DockerBuildStageTests"/>.
/// </summary>
public class DockerfileTests
{
    private static readonly Dockerfile File = new(Repo.PathOf("Dockerfile"));
    private static readonly DockerIgnore Ignore = new(Repo.PathOf(".dockerignore"));

    [Fact]
    public void Every_copied_path_exists_and_is_in_the_build_context()
    {
        var copies = File.Instructions.Where(i => i.Keyword is "COPY" or "ADD").ToList();
        Assert.NotEmpty(copies);
        foreach (var copy in copies)
        {
            var (flags, words) = copy.Split();
            Assert.True(words.Count >= 2, $"line {copy.Line}: COPY needs a source and a destination");
            if (flags.TryGetValue("from", out var from))
            {
                Assert.True(File.Stages.ContainsKey(from), $"line {copy.Line}: --from={from} names no stage");
                continue;
            }
            foreach (var source in words[..^1])
            {
                var path = Repo.PathOf(source.TrimEnd('/'));
                Assert.True(System.IO.File.Exists(path) || Directory.Exists(path), $"line {copy.Line}: {source} does not exist in the repository");
                Assert.False(Ignore.Excludes(source), $"line {copy.Line}: {source} is excluded by .dockerignore");
            }
        }
    }

    [Fact]
    public void The_context_keeps_build_outputs_out_but_not_the_sources()
    {
        Assert.True(Ignore.Excludes("src/Api/bin/Debug/net10.0/CaptionService.Api.dll"));
        Assert.True(Ignore.Excludes("src/Model/obj/project.assets.json"));
        Assert.True(Ignore.Excludes("artifacts/test.log"));
        Assert.False(Ignore.Excludes("src/Api/Program.cs"));
        Assert.False(Ignore.Excludes("src/Api/wwwroot/index.html"));
        Assert.False(Ignore.Excludes("checkpoints/demo-shapes/model.safetensors"));
    }

    [Fact]
    public void The_build_stage_restores_and_publishes_the_api_and_the_captioner_tool_with_the_chosen_backend()
    {
        Assert.Equal("cuda", File.ArgDefaults("").GetValueOrDefault("TORCH_BACKEND"));
        var build = File.In("build").ToList();
        Assert.Contains("dotnet/sdk", File.Stages["build"]);

        var commands = build.Where(i => i.Keyword == "RUN")
            .SelectMany(i => i.Arguments.Split("&&", StringSplitOptions.TrimEntries))
            .Where(c => Regex.IsMatch(c, @"^dotnet (restore|publish)\b"))
            .ToList();
        var published = new List<string>();
        foreach (var command in commands)
        {
            var project = command.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
            Assert.EndsWith(".csproj", project);
            Assert.True(System.IO.File.Exists(Repo.PathOf(project)), $"'{command}' names {project}, which does not exist");
            Assert.Contains("-p:TorchBackend=$TORCH_BACKEND", command);
            if (command.StartsWith("dotnet publish", StringComparison.Ordinal))
            {
                published.Add(project);
                Assert.Contains("-c Release", command);
                Assert.Contains("-o \"$APP_DIR\"", command);
            }
        }
        Assert.Equal(["src/Api/CaptionService.Api.csproj", "src/Training/CaptionService.Training.csproj"], published.Order());

        // The project files copied before the restore are the ones the restore needs (Model by reference).
        var copied = build.Where(i => i.Keyword == "COPY").SelectMany(i => i.Split().Words[..^1]).ToList();
        foreach (var project in Directory.GetFiles(Repo.PathOf("src"), "*.csproj", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(Repo.Root, project).Replace('\\', '/');
            Assert.Contains(relative, copied);
        }
    }

    [Fact]
    public void The_runtime_image_runs_the_published_api_as_a_non_root_user_on_8080_with_a_readiness_health_check()
    {
        var final = File.FinalStage;
        var runtime = File.In(final).ToList();
        Assert.Contains("dotnet/aspnet", File.Stages[final]);
        Assert.DoesNotContain("sdk", File.Stages[final]);

        // Everything comes from the build stage's publish folder, plus the two scripts.
        var fromBuild = runtime.Where(i => i.Keyword == "COPY" && i.Split().Flags.ContainsKey("from")).Single();
        Assert.Equal(File.ArgDefaults("build")["APP_DIR"], fromBuild.Split().Words[0]);

        var user = runtime.Last(i => i.Keyword == "USER").Arguments;
        Assert.DoesNotMatch(@"^(root|0)(:|$)", user);
        Assert.Contains("8080", runtime.Single(i => i.Keyword == "EXPOSE").Arguments);
        Assert.Equal("8080", File.Env(final)["ASPNETCORE_HTTP_PORTS"]);
        Assert.Contains("/models", runtime.Single(i => i.Keyword == "VOLUME").Arguments);
        Assert.Equal("60", File.Env(final)["DOTNET_SHUTDOWNTIMEOUTSECONDS"]);

        var health = runtime.Single(i => i.Keyword == "HEALTHCHECK");
        var healthCommand = health.Arguments[(health.Arguments.IndexOf("CMD ", StringComparison.Ordinal) + 4)..];
        Assert.Equal(["healthcheck"], System.Text.Json.JsonSerializer.Deserialize<string[]>(healthCommand)!);
        Assert.Contains("/health/ready", System.IO.File.ReadAllText(Repo.PathOf("deploy/docker/healthcheck")));

        // CMD runs the Api's assembly; the captioner wrapper runs the Training project's.
        var cmdWords = runtime.Single(i => i.Keyword == "CMD").Split().Words;
        Assert.Equal(["dotnet", "/app/" + AssemblyName("src/Api/CaptionService.Api.csproj") + ".dll"], cmdWords);
        Assert.Contains($"/app/{AssemblyName("src/Training/CaptionService.Training.csproj")}.dll", System.IO.File.ReadAllText(Repo.PathOf("deploy/docker/captioner")));
        Assert.Equal("/app", runtime.Single(i => i.Keyword == "WORKDIR").Arguments); // the content root: wwwroot/ is found there
    }

    private static string AssemblyName(string project) =>
        XDocument.Load(Repo.PathOf(project)).Descendants("AssemblyName").FirstOrDefault()?.Value
        ?? Path.GetFileNameWithoutExtension(project);
}
