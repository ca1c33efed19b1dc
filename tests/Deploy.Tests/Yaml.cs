using YamlDotNet.RepresentationModel;

namespace CaptionService.Deploy.Tests;

/// <summary>YAML files read with YamlDotNet's representation model, and a path lookup that names what is missing.</summary>
internal static class Yaml
{
    public static List<YamlMappingNode> Documents(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path)) stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    public static YamlMappingNode Document(string path) => Assert.Single(Documents(path));

    /// <summary>Follows keys (and "[i]" for sequence items); fails naming the first missing step.</summary>
    public static YamlNode At(this YamlNode node, string path)
    {
        var current = node;
        var walked = "";
        foreach (var step in path.Split('.'))
        {
            walked = walked.Length == 0 ? step : walked + "." + step;
            if (step.StartsWith('[') && current is YamlSequenceNode sequence)
            {
                var index = int.Parse(step[1..^1]);
                Assert.True(index < sequence.Children.Count, $"{walked}: no item {index}");
                current = sequence.Children[index];
            }
            else
            {
                var mapping = Assert.IsType<YamlMappingNode>(current, exactMatch: false);
                Assert.True(mapping.Children.TryGetValue(new YamlScalarNode(step), out var next), $"missing: {walked}");
                current = next!;
            }
        }
        return current;
    }

    public static bool Has(this YamlNode node, string key) =>
        node is YamlMappingNode m && m.Children.ContainsKey(new YamlScalarNode(key));

    public static string Text(this YamlNode node, string path) => Assert.IsType<YamlScalarNode>(node.At(path)).Value ?? "";

    public static int Int(this YamlNode node, string path) => int.Parse(node.Text(path));

    public static List<YamlNode> Items(this YamlNode node, string path) => Assert.IsType<YamlSequenceNode>(node.At(path)).Children.ToList();

    public static List<string> Strings(this YamlNode node, string path) =>
        node.Items(path).Select(i => Assert.IsType<YamlScalarNode>(i).Value ?? "").ToList();

    /// <summary>A mapping's scalar entries as a dictionary.</summary>
    public static Dictionary<string, string> Map(this YamlNode node, string path) =>
        Assert.IsType<YamlMappingNode>(node.At(path)).Children
            .ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => (e.Value as YamlScalarNode)?.Value ?? "");
}
