using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// Scores predicted captions against references with coco-caption's BLEU-1..4, ROUGE-L and CIDEr-D, and the
/// exact-match rate: the share of predictions equal to one of their references after the same tokenization.
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
        var exact = items.Select(IsExactMatch).ToList();
        var perImage = ids.Select((id, i) => new ImageScore(id, bleu.PerImage[i][0], bleu.PerImage[i][1], bleu.PerImage[i][2],
            bleu.PerImage[i][3], rouge.PerImage[i], cider.PerImage[i], exact[i] ? 1 : 0)).ToList();
        return new ScoreReport(items.Count, bleu.Corpus[0], bleu.Corpus[1], bleu.Corpus[2], bleu.Corpus[3], rouge.Corpus, cider.Corpus, perImage,
            exact.Count(e => e) / (double)items.Count);
    }

    /// <summary>The hypothesis is one of the references, token for token (whitespace-separated, as the scorers split).</summary>
    public static bool IsExactMatch(TokenizedItem item)
    {
        var words = TokenizedItem.Words(item.Hypothesis);
        return item.References.Any(r => TokenizedItem.Words(r).SequenceEqual(words, StringComparer.Ordinal));
    }

    /// <summary>The share of <paramref name="predictions"/> equal to one of their references after <see cref="CaptionTokenization"/>.</summary>
    public static double ExactMatchRate(IEnumerable<(string Prediction, IReadOnlyList<string> References)> predictions)
    {
        var exact = predictions.Select(p => IsExactMatch(new TokenizedItem(CaptionTokenization.Tokenize(p.Prediction),
            p.References.Select(CaptionTokenization.Tokenize).ToList()))).ToList();
        return exact.Count == 0 ? double.NaN : exact.Count(e => e) / (double)exact.Count;
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
    /// Writes the report as JSON: <c>{"images": N, "tokenization": ..., "BLEU-1": ..., ..., "CIDEr-D": ..., "exact-match": ...,
    /// ["scene_errors": {"images": N, "colour": {"images": n, "rate": r}, ...},] "per_image": [{"image_id": ..., "BLEU-1": ..., ...}]}</c>, full precision, image ids as in
    /// <see cref="CocoResults"/> (a number when integral). <paramref name="tokenization"/> says how the captions were
    /// tokenized: <see cref="PtbApproximation"/> or <see cref="AsGiven"/>.
    /// </summary>
    public static void WriteJson(ScoreReport report, string path, string tokenization = PtbApproximation, SceneErrors? scene = null)
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
        if (scene is not null)
        {
            json.WriteStartObject("scene_errors");
            json.WriteNumber("images", scene.Images);
            foreach (var (name, count) in scene.Counts)
            {
                json.WriteStartObject(name);
                json.WriteNumber("images", count);
                json.WriteNumber("rate", scene.Rate(count));
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
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

/// <summary>Corpus scores, coco-caption's definitions, and the exact-match rate.</summary>
/// <param name="Images">Images scored.</param>
/// <param name="PerImage">Every image's scores, in scoring order.</param>
/// <param name="ExactMatch">Share of predictions equal to one of their references after tokenization.</param>
public sealed record ScoreReport(int Images, double Bleu1, double Bleu2, double Bleu3, double Bleu4, double RougeL, double CiderD,
    IReadOnlyList<ImageScore> PerImage, double ExactMatch)
{
    /// <summary>(name, value) in print order: BLEU-1..4, ROUGE-L, CIDEr-D, exact match.</summary>
    public IReadOnlyList<(string Name, double Value)> Metrics =>
        [("BLEU-1", Bleu1), ("BLEU-2", Bleu2), ("BLEU-3", Bleu3), ("BLEU-4", Bleu4), ("ROUGE-L", RougeL), ("CIDEr-D", CiderD), ("exact-match", ExactMatch)];
}

/// <summary>One image's scores. BLEU here is sentence BLEU (the corpus formula on this image alone); exact match is 1 or 0.</summary>
public sealed record ImageScore(string ImageId, double Bleu1, double Bleu2, double Bleu3, double Bleu4, double RougeL, double CiderD, double ExactMatch)
{
    /// <summary>(name, value) in print order.</summary>
    public IReadOnlyList<(string Name, double Value)> Metrics =>
        [("BLEU-1", Bleu1), ("BLEU-2", Bleu2), ("BLEU-3", Bleu3), ("BLEU-4", Bleu4), ("ROUGE-L", RougeL), ("CIDEr-D", CiderD), ("exact-match", ExactMatch)];
}
