using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CaptionService.Deploy.Tests;

/// <summary>Both compose files against the Compose Specification's JSON schema (vendored in Schemas/, see its README):
/// what `docker compose config` would check first, without Docker.</summary>
public class ComposeSchemaTests
{
    private static readonly JsonSchema Schema = Load();

    private static JsonSchema Load()
    {
        // The file names draft-07 as "https://json-schema.org/draft-07/schema" (https, no '#'), an id the
        // library does not know draft-07 by: register draft-07 under that id too.
        var dialects = new DialectRegistry();
        dialects.Register(Dialect.Draft07.With([], new Uri("https://json-schema.org/draft-07/schema")));
        return JsonSchema.FromFile(Path.Combine(AppContext.BaseDirectory, "Schemas", "compose-spec.json"), new BuildOptions { DialectRegistry = dialects });
    }

    [Theory]
    [InlineData("docker-compose.yml")]
    [InlineData("docker-compose.cpu.yml")]
    public void The_compose_file_is_valid_against_the_compose_specification(string file)
    {
        var document = ToJson(Yaml.Document(Repo.PathOf(file)));
        var result = Schema.Evaluate(JsonSerializer.SerializeToElement(document), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, $"{file}: " + string.Join("; ", Errors(result)));
    }

    [Fact]
    public void The_check_finds_a_mistake()
    {
        var broken = ToJson(Yaml.Document(Repo.PathOf("docker-compose.yml")));
        broken!["services"]!["captioner"]!["restart_policy"] = "always"; // not a service key
        broken["services"]!["captioner"]!["ports"] = JsonValue.Create(8080); // not a list
        var result = Schema.Evaluate(JsonSerializer.SerializeToElement(broken), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.False(result.IsValid);
        var errors = string.Join("; ", Errors(result));
        Assert.Contains("/services/captioner", errors);
    }

    private static IEnumerable<string> Errors(EvaluationResults result) =>
        (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"));

    /// <summary>YAML -> JSON as Compose reads it: plain scalars that are numbers, booleans or null become those
    /// (YAML 1.2 core schema), quoted ones stay strings; a tag such as !reset keeps its value.</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: ScalarStyle.Plain } scalar => Plain(scalar.Value ?? ""),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new InvalidDataException($"unexpected YAML node {node.NodeType} at {node.Start}"),
    };

    private static JsonNode? Plain(string text) => text switch
    {
        "" or "~" or "null" or "Null" or "NULL" => null,
        "true" or "True" or "TRUE" => JsonValue.Create(true),
        "false" or "False" or "FALSE" => JsonValue.Create(false),
        _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => JsonValue.Create(n),
        _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !text.Contains(':') => JsonValue.Create(d),
        _ => JsonValue.Create(text),
    };
}
