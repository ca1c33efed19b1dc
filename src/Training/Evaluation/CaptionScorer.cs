using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// Scores predicted captions against references with coco-caption's BLEU-1..4, ROUGE-L and CIDEr-D.
/// Given the same tokenized text, the numbers are coco-caption's (to floating-point rounding); the tokenization
/// itself is <see cref="CaptionTokenization"/>, an approximation of coco-caption's Java PTB tokenizer.
/// </summary>
public static class CaptionScorer
{
    /// <summary><see cref="WriteJson"/>'s "tokenization" for <see cref="Score"/>'s reports.</summary>
    public const string PtbApproximation = "ptb approximation";

    /// <summary><see cref="WriteJson"/>'s "tokenization" for <see cref="ScoreTokenized"/>'s reports.</summary>
    public const string AsGiven = "as given";

    /// <summary>How many ids an error message lists before "and N more".</summary>
    private const int ListedIds = 10;

    /// <summary>
    /// Tokenizes raw captions with <see cref="CaptionTokenization"/>, then scores them. Both dictionaries must have
    /// the same image ids (an <see cref="ArgumentException"/> names the ones that differ); every image needs at least
    /// one reference. Images are scored in the enumeration order of <paramref name="predictions"/>.
    /// </summary>
    public static ScoreReport Score(IReadOnlyDictionary<string, string> predictions, IReadOnlyDictionary<string, IReadOnlyList<string>> references) =>
        Score(predictions, references, CaptionTokenization.Tokenize);

    /// <summary>As <see cref="Score"/> for captions that are already tokenized (space-separated tokens, e.g. the output
    /// of coco-caption's PTB tokenizer): they are scored as given, which reproduces coco-caption's numbers exactly.</summary>
    public static ScoreReport ScoreTokenized(IReadOnlyDictionary<string, string> predictions, IReadOnlyDictionary<string, IReadOnlyList<string>> references) =>
        Score(predictions, references, text => text);

    private static ScoreReport Score(IReadOnlyDictionary<string, string> predictions, IReadOnlyDictionary<string, IReadOnlyList<string>> references,
        Func<string, string> tokenize)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(references);
        CheckSameIds(predictions, references);
        if (predictions.Count == 0) throw new ArgumentException("Nothing to score: there are no predictions.");

        var ids = new List<string>(predictions.Count);
        var items = new List<TokenizedItem>(predictions.Count);
        foreach (var (id, prediction) in predictions)
        {
            var refs = references[id];
            if (prediction is null) throw new ArgumentException($"Image {id}: the prediction is null.");
            if (refs is null || refs.Count == 0) throw new ArgumentException($"Image {id}: there are no reference captions.");
            if (refs.Any(r => r is null)) throw new ArgumentException($"Image {id}: a reference caption is null.");
            ids.Add(id);
            items.Add(new TokenizedItem(tokenize(prediction), refs.Select(tokenize).ToList()));
        }

        var bleu = Bleu.Score(items);
        var rouge = RougeL.Score(items);
        var cider = CiderD.Score(items);
        var perImage = ids.Select((id, i) => new ImageScore(id, bleu.PerImage[i][0], bleu.PerImage[i][1], bleu.PerImage[i][2],
            bleu.PerImage[i][3], rouge.PerImage[i], cider.PerImage[i])).ToList();
        return new ScoreReport(items.Count, bleu.Corpus[0], bleu.Corpus[1], bleu.Corpus[2], bleu.Corpus[3], rouge.Corpus, cider.Corpus, perImage);
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the ids in one dictionary but not the other.</summary>
    private static void CheckSameIds(IReadOnlyDictionary<string, string> predictions, IReadOnlyDictionary<string, IReadOnlyList<string>> references)
    {
        var unknown = predictions.Keys.Where(id => !references.ContainsKey(id)).ToList();
        var unpredicted = references.Keys.Where(id => !predictions.ContainsKey(id)).ToList();
        var problems = new List<string>();
        if (unknown.Count > 0) problems.Add($"{unknown.Count} predicted images have no references: {ListIds(unknown)}");
        if (unpredicted.Count > 0) problems.Add($"{unpredicted.Count} reference images have no prediction: {ListIds(unpredicted)}");
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems));
    }

    /// <summary>"a, b, c" or "a, b, ... (and 12 more)".</summary>
    internal static string ListIds(IReadOnlyCollection<string> ids) =>
        string.Join(", ", ids.Take(ListedIds)) + (ids.Count > ListedIds ? $" (and {ids.Count - ListedIds} more)" : "");

    /// <summary>Writes the report as one "name: value" line per metric (4 decimals), after an "images: N" line.</summary>
    public static void WriteTable(ScoreReport report, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteLine($"images: {report.Images}");
        foreach (var (name, value) in report.Metrics)
            writer.WriteLine($"{name}: {value.ToString("F4", CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// Writes the report as JSON: <c>{"images": N, "tokenization": ..., "BLEU-1": ..., ..., "CIDEr-D": ...,
    /// "per_image": [{"image_id": ..., "BLEU-1": ..., ...}]}</c>, full precision, image ids as in
    /// <see cref="CocoResults"/> (a number when integral). <paramref name="tokenization"/> says how the captions were
    /// tokenized: <see cref="PtbApproximation"/> or <see cref="AsGiven"/>.
    /// </summary>
    public static void WriteJson(ScoreReport report, string path, string tokenization = PtbApproximation)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteNumber("images", report.Images);
        json.WriteString("tokenization", tokenization);
        foreach (var (name, value) in report.Metrics) json.WriteNumber(name, value);
        json.WriteStartArray("per_image");
        foreach (var image in report.PerImage)
        {
            json.WriteStartObject();
            json.WritePropertyName("image_id");
            CocoResults.WriteImageId(json, image.ImageId);
            foreach (var (name, value) in image.Metrics) json.WriteNumber(name, value);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}

/// <summary>Corpus scores, coco-caption's definitions.</summary>
/// <param name="Images">Images scored.</param>
/// <param name="PerImage">Every image's scores, in scoring order.</param>
public sealed record ScoreReport(int Images, double Bleu1, double Bleu2, double Bleu3, double Bleu4, double RougeL, double CiderD,
    IReadOnlyList<ImageScore> PerImage)
{
    /// <summary>(name, value) in print order: BLEU-1..4, ROUGE-L, CIDEr-D.</summary>
    public IReadOnlyList<(string Name, double Value)> Metrics =>
        [("BLEU-1", Bleu1), ("BLEU-2", Bleu2), ("BLEU-3", Bleu3), ("BLEU-4", Bleu4), ("ROUGE-L", RougeL), ("CIDEr-D", CiderD)];
}

/// <summary>One image's scores. BLEU here is sentence BLEU (the corpus formula on this image alone).</summary>
public sealed record ImageScore(string ImageId, double Bleu1, double Bleu2, double Bleu3, double Bleu4, double RougeL, double CiderD)
{
    /// <summary>(name, value) in print order.</summary>
    public IReadOnlyList<(string Name, double Value)> Metrics =>
        [("BLEU-1", Bleu1), ("BLEU-2", Bleu2), ("BLEU-3", Bleu3), ("BLEU-4", Bleu4), ("ROUGE-L", RougeL), ("CIDEr-D", CiderD)];
}
