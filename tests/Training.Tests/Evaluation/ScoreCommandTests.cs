using System.Globalization;
using System.Text.Json;
using CaptionService.Training.Cli;
using CaptionService.Training.Evaluation;
using SixLabors.ImageSharp.PixelFormats;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class ScoreCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-score-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A COCO captions file with the mini corpus' references (and one image file per entry).</summary>
    private string References(IEnumerable<string>? extraIds = null)
    {
        var ids = MiniCorpus.References.Keys.Concat(extraIds ?? []).ToList();
        var coco = new
        {
            info = new { description = "test" },
            images = ids.Select(id => new { id = long.Parse(id, CultureInfo.InvariantCulture), file_name = $"{id}.png" }),
            annotations = ids.SelectMany(id => (MiniCorpus.References.TryGetValue(id, out var refs) ? refs : ["an extra image"])
                .Select(c => new { image_id = long.Parse(id, CultureInfo.InvariantCulture), caption = c })),
        };
        var path = Path.Combine(dir, "captions.json");
        File.WriteAllText(path, JsonSerializer.Serialize(coco));
        return path;
    }

    private string Predictions(IEnumerable<KeyValuePair<string, string>>? predictions = null)
    {
        var path = Path.Combine(dir, "results.json");
        CocoResults.WritePredictions(path, predictions ?? MiniCorpus.Predictions);
        return path;
    }

    [Fact]
    public void Prints_the_metrics_and_writes_json()
    {
        var json = Path.Combine(dir, "out", "scores.json");
        var (code, output, error) = Run("score", "--predictions", Predictions(), "--references", References(), "--json", json);
        Assert.True(code == 0, error);

        // The Python transcription of coco-caption, on the same tokenized text, to 4 decimals.
        var lines = Lines(output);
        Assert.Equal("5", lines["images"]);
        Assert.Equal(MiniCorpus.Bleu1.ToString("F4", CultureInfo.InvariantCulture), lines["BLEU-1"]);
        Assert.Equal(MiniCorpus.Bleu2.ToString("F4", CultureInfo.InvariantCulture), lines["BLEU-2"]);
        Assert.Equal(MiniCorpus.Bleu3.ToString("F4", CultureInfo.InvariantCulture), lines["BLEU-3"]);
        Assert.Equal(MiniCorpus.Bleu4.ToString("F4", CultureInfo.InvariantCulture), lines["BLEU-4"]);
        Assert.Equal(MiniCorpus.RougeL.ToString("F4", CultureInfo.InvariantCulture), lines["ROUGE-L"]);
        Assert.Equal(MiniCorpus.CiderD.ToString("F4", CultureInfo.InvariantCulture), lines["CIDEr-D"]);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(5, root.GetProperty("images").GetInt32());
        Assert.Equal(MiniCorpus.CiderD, root.GetProperty("CIDEr-D").GetDouble(), 1e-12);
        Assert.Equal(MiniCorpus.Bleu4, root.GetProperty("BLEU-4").GetDouble(), 1e-12);
        var perImage = root.GetProperty("per_image").EnumerateArray().ToList();
        Assert.Equal(5, perImage.Count);
        Assert.Equal(42, perImage[0].GetProperty("image_id").GetInt64());
        Assert.Equal(MiniCorpus.PerImage["42"].Cider, perImage[0].GetProperty("CIDEr-D").GetDouble(), 1e-12);
    }

    [Fact]
    public void Pretokenized_text_is_scored_as_given()
    {
        var predictions = Predictions(MiniCorpus.TokenizedPredictions);
        var coco = new
        {
            annotations = MiniCorpus.TokenizedReferences.SelectMany(p => p.Value.Select(c => new { image_id = int.Parse(p.Key, CultureInfo.InvariantCulture), caption = c })),
        };
        var references = Path.Combine(dir, "tokenized.json");
        File.WriteAllText(references, JsonSerializer.Serialize(coco));
        var (code, output, error) = Run("score", "--predictions", predictions, "--references", references, "--pretokenized");
        Assert.True(code == 0, error);
        Assert.Equal(MiniCorpus.CiderD.ToString("F4", CultureInfo.InvariantCulture), Lines(output)["CIDEr-D"]);
    }

    [Fact]
    public void Missing_predictions_are_an_error_unless_allowed()
    {
        var references = References(extraIds: ["1000", "1001"]);
        var predictions = Predictions();
        var (code, _, error) = Run("score", "--predictions", predictions, "--references", references);
        Assert.Equal(2, code);
        Assert.Contains("2 reference images have no prediction", error);
        Assert.Contains("1000, 1001", error);
        Assert.DoesNotContain("   at ", error);

        // --allow-missing: the predicted images only, with the same numbers as before.
        (code, var output, error) = Run("score", "--predictions", predictions, "--references", references, "--allow-missing");
        Assert.True(code == 0, error);
        var lines = Lines(output);
        Assert.Equal("5", lines["images"]);
        Assert.Contains("2 reference images", lines["skipped"]);
        Assert.Equal(MiniCorpus.CiderD.ToString("F4", CultureInfo.InvariantCulture), lines["CIDEr-D"]);
    }

    [Fact]
    public void Predictions_for_unknown_images_are_an_error()
    {
        var predictions = Predictions(MiniCorpus.Predictions.Append(new("31337", "a stray caption")));
        var (code, _, error) = Run("score", "--predictions", predictions, "--references", References(), "--allow-missing");
        Assert.Equal(2, code);
        Assert.Contains("31337", error);
        Assert.Contains("not in", error);
    }

    [Fact]
    public void Bad_files_are_named()
    {
        var bad = Path.Combine(dir, "bad.json");
        File.WriteAllText(bad, "[\n  {\"image_id\": 42, \"caption\": \"a\"},\n  {\"image_id\": 42, \"caption\": \"b\"}\n]");
        var (code, _, error) = Run("score", "--predictions", bad, "--references", References());
        Assert.Equal(2, code);
        Assert.Contains($"{bad}:3:", error);
        Assert.Contains("duplicate image_id 42", error);

        File.WriteAllText(bad, "[\n  {\"image_id\": 42 \"caption\": \"a\"}\n]");
        (code, _, error) = Run("score", "--predictions", bad, "--references", References());
        Assert.Equal(2, code);
        Assert.Contains($"{bad}:2: not valid JSON", error);

        var missing = Path.Combine(dir, "nowhere.json");
        (code, _, error) = Run("score", "--predictions", missing, "--references", References());
        Assert.Equal(2, code);
        Assert.Contains(missing, error);
    }

    [Fact]
    public void Writes_a_gallery_of_the_scored_images()
    {
        var images = Directory.CreateDirectory(Path.Combine(dir, "val2014")).FullName;
        foreach (var id in MiniCorpus.Predictions.Keys.Take(3))
            GalleryTests.Png(images, $"{id}.png", 64, 48, new Rgba32(10, 200, 10));
        var html = Path.Combine(dir, "gallery.html");
        var (code, output, error) = Run("score", "--predictions", Predictions(), "--references", References(),
            "--gallery", html, "--images", images, "--gallery-max", "4");
        Assert.True(code == 0, error);
        Assert.Contains($"wrote {html}", output);
        var text = File.ReadAllText(html);
        Assert.Equal(3, text.Split("data:image/jpeg;base64,").Length - 1); // 3 of the 4 shown have files
        Assert.Contains("A cat sitting on a laptop computer.", text);
        Assert.Contains("The cat&#39;s sleeping on the laptop.", text);
        Assert.DoesNotContain("A red double decker bus.", text); // the 5th image is beyond --gallery-max
    }
}
