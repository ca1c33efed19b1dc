using System.Diagnostics;
using System.Text.Json;

namespace CaptionService.Deploy.Tests;

/// <summary>
/// Tools no one here wrote, run against the service by the tests: Node.js with the npm packages pinned in
/// tests/Clients/js (the Hugging Face Inference client, Redocly CLI) and Prometheus's promtool. None is
/// downloaded by a test: bash .ci/run installs them (npm ci, apt-get) and sets <see cref="RequiredVariable"/>,
/// which makes a missing one a failure; under a plain <c>dotnet test</c> their tests skip, saying why.
/// </summary>
internal static class ExternalTools
{
    public const string RequiredVariable = "CAPTIONER_TOOL_TESTS_REQUIRED";

    public static string JsFolder => Repo.PathOf("tests/Clients/js");

    /// <summary>Skips the test when <paramref name="missing"/> says what is missing, or fails it under .ci/run.</summary>
    public static void Require(string? missing)
    {
        if (missing is null) return;
        if (Environment.GetEnvironmentVariable(RequiredVariable) == "1")
            throw new InvalidOperationException($"{RequiredVariable}=1 but {missing}");
        Skip.If(true, $"Not run: {missing} (bash .ci/run installs it and requires this test).");
    }

    /// <summary>Node.js, and the npm package at the version tests/Clients/js/package.json pins.</summary>
    public static void RequireNodePackage(string package)
    {
        Require(Which("node") is null ? "node is missing (apt-get install -y nodejs npm)" : null);
        var pinned = JsonDocument.Parse(File.ReadAllText(Path.Combine(JsFolder, "package.json")))
            .RootElement.GetProperty("dependencies").GetProperty(package).GetString();
        var installed = Path.Combine(JsFolder, "node_modules", package, "package.json");
        string? version = File.Exists(installed) ? JsonDocument.Parse(File.ReadAllText(installed)).RootElement.GetProperty("version").GetString() : null;
        Require(version == pinned ? null
            : $"{package} {pinned} is not installed in tests/Clients/js (found {version ?? "none"}; run npm ci there)");
    }

    /// <summary>The full path of a program on PATH, or null.</summary>
    public static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    /// <summary>Runs a program to its end (killed after <paramref name="timeout"/>): its exit code and output.</summary>
    public static Task<(int ExitCode, string Output, string Errors)> RunAsync(string program, string workingDirectory, TimeSpan timeout, params string[] arguments) =>
        RunWithInputAsync(program, workingDirectory, timeout, null, arguments);

    /// <param name="input">written to its standard input, which is then closed</param>
    public static async Task<(int ExitCode, string Output, string Errors)> RunWithInputAsync(string program, string workingDirectory, TimeSpan timeout, string? input,
        params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past {timeout}: {await errors}");
        }
        return (process.ExitCode, await output, await errors);
    }
}
