using System.Text.Json;
using System.Text.RegularExpressions;

namespace CaptionService.Deploy.Tests;

/// <summary>One instruction of a Dockerfile (continuation lines joined), in the stage it belongs to.</summary>
/// <param name="Stage">The stage's name (<c>AS name</c>), its index when unnamed, or "" before the first FROM.</param>
internal sealed record Instruction(string Keyword, string Arguments, string Stage, int Line)
{
    /// <summary>Flags (<c>--from=build</c>) and the other words; the exec form (a JSON array) is read as its items.</summary>
    public (Dictionary<string, string> Flags, List<string> Words) Split()
    {
        var flags = new Dictionary<string, string>();
        var rest = Arguments.Trim();
        while (rest.StartsWith("--", StringComparison.Ordinal))
        {
            var end = rest.IndexOf(' ');
            var flag = end < 0 ? rest : rest[..end];
            var eq = flag.IndexOf('=');
            flags[eq < 0 ? flag[2..] : flag[2..eq]] = eq < 0 ? "" : flag[(eq + 1)..];
            rest = end < 0 ? "" : rest[(end + 1)..].TrimStart();
        }
        var words = rest.StartsWith('[')
            ? JsonSerializer.Deserialize<List<string>>(rest)!
            : rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        return (flags, words);
    }
}

/// <summary>A small Dockerfile reader: enough for the checks and for running the build stage without Docker.</summary>
internal sealed class Dockerfile
{
    public List<Instruction> Instructions { get; } = [];

    /// <summary>Stage name -> base image.</summary>
    public Dictionary<string, string> Stages { get; } = [];

    public Dockerfile(string path)
    {
        var lines = File.ReadAllLines(path);
        string stage = "";
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int first = i + 1;
            var text = line;
            while (text.EndsWith('\\') && i + 1 < lines.Length)
            {
                text = text[..^1].TrimEnd();
                var next = lines[++i].Trim();
                if (next.StartsWith('#')) continue; // comment lines inside a continuation are dropped, as Docker does
                text += " " + next;
            }
            var space = text.IndexOf(' ');
            var keyword = (space < 0 ? text : text[..space]).ToUpperInvariant();
            var args = space < 0 ? "" : text[(space + 1)..].Trim();
            if (keyword == "FROM")
            {
                var m = Regex.Match(args, @"^(?:--\S+\s+)*(?<image>\S+)(?:\s+AS\s+(?<name>\S+))?$", RegexOptions.IgnoreCase);
                stage = m.Groups["name"].Success ? m.Groups["name"].Value : Stages.Count.ToString();
                Stages[stage] = m.Groups["image"].Value;
            }
            Instructions.Add(new Instruction(keyword, args, stage, first));
        }
    }

    public IEnumerable<Instruction> In(string stage) => Instructions.Where(i => i.Stage == stage);

    public string FinalStage => Instructions.Last(i => i.Keyword == "FROM").Stage;

    /// <summary>ARG defaults: global (before the first FROM) overlaid by the stage's own.</summary>
    public Dictionary<string, string> ArgDefaults(string stage)
    {
        var args = new Dictionary<string, string>();
        var global = new Dictionary<string, string>();
        foreach (var i in In("").Where(i => i.Keyword == "ARG")) Add(global, i.Arguments);
        foreach (var i in In(stage).Where(i => i.Keyword == "ARG"))
        {
            var name = i.Arguments.Split('=', 2)[0];
            if (i.Arguments.Contains('=')) Add(args, i.Arguments);
            else if (global.TryGetValue(name, out var value)) args[name] = value; // redeclared: takes the global default
        }
        return args;

        static void Add(Dictionary<string, string> to, string arg)
        {
            var parts = arg.Split('=', 2);
            to[parts[0]] = parts.Length == 2 ? parts[1] : "";
        }
    }

    /// <summary>ENV KEY=VALUE pairs of a stage (the KEY=VALUE form only; quotes are not used here).</summary>
    public Dictionary<string, string> Env(string stage)
    {
        var env = new Dictionary<string, string>();
        foreach (var i in In(stage).Where(i => i.Keyword == "ENV"))
            foreach (var pair in i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                Assert.True(kv.Length == 2, $"Dockerfile line {i.Line}: use ENV KEY=VALUE ({pair})");
                env[kv[0]] = kv[1];
            }
        return env;
    }
}
