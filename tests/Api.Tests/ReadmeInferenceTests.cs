using System.Diagnostics;
using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Api.Tests;

/// <summary>The README's curl lines for Hugging Face Inference API clients, run as they are written (bash,
/// curl, base64) against the service on a loopback port: each answers the caption POST /captions gives.</summary>
public class ReadmeInferenceTests
{
    private const string Heading = "### Hugging Face Inference API clients";

    private static List<string> Lines()
    {
        var readme = File.ReadAllText(Path.Combine(Root(), "README.md"));
        var section = readme[readme.IndexOf(Heading, StringComparison.Ordinal)..];
        var block = section[(section.IndexOf("```sh\n", StringComparison.Ordinal) + 6)..];
        return block[..block.IndexOf("```", StringComparison.Ordinal)].Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    [Fact]
    public async Task Each_curl_line_answers_the_caption_of_post_captions()
    {
        Assert.True(File.Exists("/usr/bin/curl") && File.Exists("/usr/bin/base64"), "curl and base64 (Debian's curl and coreutils) are needed");
        await using var factory = new ApiFactory(new Dictionary<string, string?> { ["Captioner:Device"] = "cpu" });
        factory.UseKestrel(0);
        var client = await factory.ReadyClientAsync();
        var dir = Directory.CreateTempSubdirectory("readme-hf-").FullName;
        var photo = Path.Combine(dir, "photo.jpg");
        using (var image = new Image<Rgb24>(48, 40, new Rgb24(200, 40, 40))) await image.SaveAsJpegAsync(photo);

        var lines = Lines();
        Assert.Equal(2, lines.Count);
        var expected = new[] { Array.Empty<(string, string)>(), [("max_tokens", "20"), ("decoding", "beam"), ("num_beams", "3")] };
        for (int i = 0; i < lines.Count; i++)
        {
            var form = new MultipartFormDataContent { { new ByteArrayContent(await File.ReadAllBytesAsync(photo)), "image", "photo.jpg" } };
            foreach (var (name, value) in expected[i]) form.Add(new StringContent(value), name);
            var caption = (await Http.Json(await client.PostAsync("/captions", form))).GetProperty("caption").GetString();

            var line = lines[i].Replace("http://localhost:5000", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
            var start = new ProcessStartInfo("/bin/bash") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("set -o pipefail; " + line.Replace("curl ", "curl -sS --fail-with-body "));
            using var bash = Process.Start(start)!;
            var output = await bash.StandardOutput.ReadToEndAsync();
            var errors = await bash.StandardError.ReadToEndAsync();
            await bash.WaitForExitAsync();
            Assert.True(bash.ExitCode == 0, $"{lines[i]}\n-> exit {bash.ExitCode}: {output}{errors}");
            Assert.Equal(caption, JsonDocument.Parse(output).RootElement.GetProperty("generated_text").GetString());
        }
    }

    private static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CaptionService.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No CaptionService.sln above {AppContext.BaseDirectory}");
    }
}
