using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text.RegularExpressions;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;

namespace CaptionService.Api.Tests;

/// <summary>
/// The README cannot drift from the service: its two commands are the first lines, every `curl` line of
/// it is sent to the service (the demo checkpoint, in-process) and must answer 200, every form field it
/// names is one the service reads, and every Captioner setting named in it or docs/service.md exists.
/// </summary>
[Collection(ApiCollection.Name)]
public partial class ReadmeTests(ApiFixture api)
{
    private static readonly string Root = FindRoot();
    private static string Readme => File.ReadAllText(Path.Combine(Root, "README.md"));

    [Fact]
    public void The_README_starts_with_the_two_commands()
    {
        var block = ShellLines(Readme).Take(2).Select(l => l.Split(" #")[0].Trim()).ToList();
        Assert.Equal(["dotnet run --project src/Api", "dotnet test CaptionService.sln"], block);
    }

    [Fact]
    public async Task Every_curl_line_of_the_README_is_answered_200()
    {
        var curls = ShellLines(Readme).Where(l => l.StartsWith("curl ")).ToList();
        Assert.True(curls.Count >= 5, $"only {curls.Count} curl lines found in README.md");
        foreach (var line in curls)
        {
            var (url, fields) = ParseCurl(line);
            Assert.StartsWith("http://localhost:5000/", url); // what `dotnet run --project src/Api` listens on
            var path = new Uri(url).PathAndQuery;
            HttpResponseMessage response;
            if (fields.Count == 0)
            {
                response = await api.Client.GetAsync(path);
            }
            else
            {
                var form = new MultipartFormDataContent();
                foreach (var (name, value) in fields)
                {
                    Assert.Contains(name, FormFieldNames);
                    if (value.StartsWith('@'))
                    {
                        var file = new ByteArrayContent(Images.Png(40, 30));
                        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                        form.Add(file, name, value[1..]);
                    }
                    else
                    {
                        form.Add(new StringContent(value), name);
                    }
                }
                response = await api.Client.PostAsync(path, form);
            }
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{line}\n-> {(int)response.StatusCode} {body}");
        }
    }

    [Fact]
    public void The_README_options_table_names_every_option_the_service_reads_and_no_other()
    {
        var section = Readme[Readme.IndexOf("### Options of `POST /captions`", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", StringComparison.Ordinal)];
        var named = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(l => TableNames().Matches(l.Split('|')[1]).Select(m => m.Groups[1].Value)).ToList();
        // Every option the service reads, and nothing else.
        var options = FormFieldNames.Except([FormFields.Image, FormFields.Images]).Order();
        Assert.Equal(options, named.Order());
    }

    [Fact]
    public void Every_Captioner_setting_named_in_the_README_and_docs_exists()
    {
        var text = Readme + File.ReadAllText(Path.Combine(Root, "docs", "service.md"));
        var settings = SettingNames().Matches(text).Select(m => m.Value).Distinct().ToList();
        Assert.True(settings.Count >= 15, $"only {settings.Count} settings found");
        // SettingsCheck names each key that is no setting; the values here are placeholders, so only that problem counts.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s, "0"))).Build();
        var unknown = SettingsCheck.Problems(configuration).Where(p => p.Contains("is not a setting")).ToList();
        Assert.True(unknown.Count == 0, string.Join('\n', unknown));
    }

    /// <summary>The form fields the caption endpoints bind: the files and every [FromForm] option.</summary>
    private static readonly HashSet<string> FormFieldNames =
    [
        FormFields.Image, FormFields.Images,
        .. typeof(CaptionForm).GetProperties().Select(p => p.GetCustomAttribute<FromFormAttribute>()?.Name).OfType<string>(),
    ];

    /// <summary>The lines of the README's ```bash blocks, in order.</summary>
    private static IEnumerable<string> ShellLines(string markdown)
    {
        bool inside = false;
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal)) { inside = !inside && line == "```bash"; continue; }
            if (inside && line.Length > 0) yield return line;
        }
    }

    private static (string Url, List<(string Name, string Value)> Fields) ParseCurl(string line)
    {
        var words = line.Split(" #")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var fields = new List<(string, string)>();
        string? url = null;
        for (int i = 1; i < words.Length; i++)
        {
            if (words[i] == "-F")
            {
                var pair = words[++i].Split('=', 2);
                fields.Add((pair[0], pair[1]));
            }
            else if (words[i].StartsWith("http", StringComparison.Ordinal)) url = words[i];
            else Assert.Fail($"README curl line with an option this test does not know ({words[i]}): {line}");
        }
        return (url ?? throw new InvalidOperationException($"no URL in: {line}"), fields);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CaptionService.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No CaptionService.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"`([a-z_]+)`")]
    private static partial Regex TableNames();

    [GeneratedRegex(@"Captioner:[A-Za-z]+(:[A-Za-z]+)?")]
    private static partial Regex SettingNames();
}
