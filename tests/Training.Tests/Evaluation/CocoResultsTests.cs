using System.Text.Json;
using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class CocoResultsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("coco-results-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Predictions_round_trip_with_integer_ids_as_numbers()
    {
        var predictions = new Dictionary<string, string>
        {
            ["42"] = "a dog",
            ["COCO_val2014_000000000073.jpg"] = "a \"quoted\" <cat> & ünïcödé",
            ["007"] = "leading zero: not an integer id",
            ["-3"] = "negative",
            ["9223372036854775807"] = "long.MaxValue",
        };
        var path = Path.Combine(dir, "sub", "results.json");
        CocoResults.WritePredictions(path, predictions);

        using (var doc = JsonDocument.Parse(File.ReadAllText(path)))
        {
            var ids = doc.RootElement.EnumerateArray().Select(e => e.GetProperty("image_id")).ToList();
            Assert.Equal([JsonValueKind.Number, JsonValueKind.String, JsonValueKind.String, JsonValueKind.Number, JsonValueKind.Number],
                ids.Select(i => i.ValueKind));
            Assert.Equal(42, ids[0].GetInt64());
        }
        Assert.Equal(predictions, CocoResults.ReadPredictions(path));
    }

    [Fact]
    public void Reading_accepts_number_and_string_ids_and_ignores_other_fields()
    {
        var path = Write("r.json", """
            [
              {"image_id": 42, "caption": "a dog", "score": 0.9},
              {"image_id": "x.jpg", "caption": "a cat"}
            ]
            """);
        Assert.Equal(new Dictionary<string, string> { ["42"] = "a dog", ["x.jpg"] = "a cat" }, CocoResults.ReadPredictions(path));
    }

    [Fact]
    public void A_duplicate_id_is_named_with_its_line()
    {
        var path = Write("dup.json", """
            [
              {"image_id": 42, "caption": "a dog"},
              {"image_id": 7, "caption": "a cat"},
              {"image_id": "42", "caption": "the same image, as a string"}
            ]
            """);
        var error = Assert.Throws<InvalidDataException>(() => CocoResults.ReadPredictions(path));
        Assert.StartsWith($"{path}:4:", error.Message);
        Assert.Contains("duplicate image_id 42", error.Message);
        Assert.Throws<ArgumentException>(() => CocoResults.WritePredictions(Path.Combine(dir, "w.json"),
            [new("1", "a"), new("1", "b")]));
    }

    [Theory]
    [InlineData("[\n  {\"image_id\": 1, \"caption\": \"a\"}\n  {\"image_id\": 2, \"caption\": \"b\"}\n]", 3, "not valid JSON")]
    [InlineData("[\n  {\"image_id\": 1, \"caption\": \"a\"},\n  {\"image_id\": 2}\n]", 3, "missing \"caption\"")]
    [InlineData("[\n  {\"image_id\": 1, \"caption\": \"a\"},\n\n  {\"image_id\": 2.5, \"caption\": \"b\"}\n]", 4, "\"image_id\" must be an integer or a non-empty string")]
    [InlineData("[\n  {\"image_id\": 1, \"caption\": 17}\n]", 2, "\"caption\" must be a string")]
    [InlineData("{\"image_id\": 1, \"caption\": \"a\"}", 1, "expected a JSON array")]
    [InlineData("[\n  [1, \"a\"]\n]", 2, "expected an object")]
    [InlineData("[{\"image_id\": 1, \"caption\": \"a\"}]\n]", 2, "not valid JSON")]
    [InlineData("[{\"image_id\": 1, \"caption\": \"a\"", 1, "not valid JSON")]
    [InlineData("", 1, "empty")]
    public void Malformed_files_name_the_file_and_line(string text, int line, string problem)
    {
        var path = Write("bad.json", text);
        var error = Assert.Throws<InvalidDataException>(() => CocoResults.ReadPredictions(path));
        Assert.StartsWith($"{path}:{line}:", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        var path = Path.Combine(dir, "nowhere.json");
        Assert.Contains(path, Assert.Throws<FileNotFoundException>(() => CocoResults.ReadPredictions(path)).Message);
    }

    [Fact]
    public void References_come_from_a_coco_captions_file()
    {
        var path = Write("captions_val2014.json", "\uFEFF" + """
            {
              "info": {"description": "COCO 2014", "nested": [1, {"a": 2}]},
              "licenses": [],
              "images": [
                {"id": 42, "file_name": "COCO_val2014_000000000042.jpg", "width": 640},
                {"id": 73, "file_name": "COCO_val2014_000000000073.jpg"},
                {"id": 99, "file_name": "no_annotations.jpg"}
              ],
              "annotations": [
                {"image_id": 42, "id": 1, "caption": "A dog."},
                {"image_id": 73, "id": 2, "caption": "A cat."},
                {"image_id": 42, "id": 3, "caption": "A brown dog."}
              ],
              "type": "captions"
            }
            """);
        var references = CocoResults.ReadReferences(path);
        Assert.Equal(["42", "73"], references.Captions.Keys);
        Assert.Equal(["A dog.", "A brown dog."], references.Captions["42"]);
        Assert.Equal(["A cat."], references.Captions["73"]);
        Assert.Equal("no_annotations.jpg", references.FileNames["99"]);
        Assert.Equal("COCO_val2014_000000000042.jpg", references.FileNames["42"]);
    }

    [Fact]
    public void Reference_problems_name_the_file_and_line()
    {
        var path = Write("refs.json", """
            {
              "annotations": [
                {"image_id": 42, "caption": "A dog."},
                {"image_id": 43, "caption": null}
              ]
            }
            """);
        var error = Assert.Throws<InvalidDataException>(() => CocoResults.ReadReferences(path));
        Assert.StartsWith($"{path}:4:", error.Message);
        Assert.Contains("image_id 43", error.Message);

        path = Write("noannotations.json", """{"images": []}""");
        Assert.Contains("no \"annotations\"", Assert.Throws<InvalidDataException>(() => CocoResults.ReadReferences(path)).Message);

        path = Write("truncated.json", "{\n  \"annotations\": [\n    {\"image_id\": 42, \"caption\": \"A dog.\"},\n");
        error = Assert.Throws<InvalidDataException>(() => CocoResults.ReadReferences(path));
        Assert.StartsWith(path, error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Theory]
    [InlineData("42", true)]
    [InlineData("-3", true)]
    [InlineData("0", true)]
    [InlineData("007", false)]
    [InlineData("+4", false)]
    [InlineData("4.0", false)]
    [InlineData("99999999999999999999", false)]
    [InlineData("x.jpg", false)]
    public void Integer_ids(string id, bool integer) => Assert.Equal(integer, CocoResults.IsIntegerId(id));
}
