using System.Text.Json;

namespace CaptionService.Deploy.Tests;

/// <summary>The OpenAPI document the service serves (/swagger/v1/swagger.json) through Redocly CLI's
/// recommended rules (@redocly/cli, pinned in tests/Clients/js), with API keys configured and without:
/// no error, no warning, no rule turned off.</summary>
public class RedoclyLintTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_served_document_passes_redoclys_recommended_rules(bool withKeys)
    {
        ExternalTools.RequireNodePackage("@redocly/cli");
        (string, string)[] settings = withKeys ? [("Captioner:ApiKeys:0", "lint-key-0123456789")] : [];
        await using var service = await BrowserFixture.StartServiceAsync(settings);
        var document = await service.Http.GetStringAsync("/swagger/v1/swagger.json");
        var dir = Directory.CreateTempSubdirectory("redocly-").FullName; // no redocly.yaml there: the built-in rules only
        var file = Path.Combine(dir, "swagger.json");
        await File.WriteAllTextAsync(file, document);

        var cli = Path.Combine(ExternalTools.JsFolder, "node_modules", "@redocly", "cli", "bin", "cli.js");
        var (exit, output, errors) = await ExternalTools.RunAsync("node", dir, TimeSpan.FromSeconds(120),
            cli, "lint", file, "--extends=recommended", "--format=json");
        Assert.True(output.Contains('{'), $"redocly exited {exit} without a report: {errors}");
        var report = JsonDocument.Parse(output[output.IndexOf('{')..]).RootElement;
        var problems = report.GetProperty("problems").EnumerateArray()
            .Select(p => $"{p.GetProperty("severity").GetString()} {p.GetProperty("ruleId").GetString()}: {p.GetProperty("message").GetString()} "
                + string.Join(", ", p.GetProperty("location").EnumerateArray().Select(l => l.GetProperty("pointer").GetString())))
            .ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        Assert.True(exit == 0, $"redocly exited {exit}: {errors}");
        var totals = report.GetProperty("totals");
        Assert.Equal(0, totals.GetProperty("errors").GetInt32() + totals.GetProperty("warnings").GetInt32() + totals.GetProperty("ignored").GetInt32());
    }

    [SkippableFact]
    public async Task Redocly_does_find_what_the_document_used_to_lack()
    {
        ExternalTools.RequireNodePackage("@redocly/cli");
        var dir = Directory.CreateTempSubdirectory("redocly-").FullName;
        var file = Path.Combine(dir, "bare.json");
        await File.WriteAllTextAsync(file, """
            {"openapi": "3.0.4", "info": {"title": "t", "version": "1"},
             "paths": {"/x": {"get": {"operationId": "x", "summary": "x", "tags": ["X"], "responses": {"200": {"description": "ok"}}}}}}
            """);
        var cli = Path.Combine(ExternalTools.JsFolder, "node_modules", "@redocly", "cli", "bin", "cli.js");
        var (exit, output, _) = await ExternalTools.RunAsync("node", dir, TimeSpan.FromSeconds(120), cli, "lint", file, "--extends=recommended", "--format=json");
        Assert.NotEqual(0, exit);
        foreach (var rule in new[] { "no-empty-servers", "security-defined", "info-license", "operation-4xx-response" })
            Assert.Contains($"\"{rule}\"", output);
    }
}
