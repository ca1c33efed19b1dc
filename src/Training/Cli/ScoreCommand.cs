using System.CommandLine;
using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner score --predictions results.json --references captions.json [--json OUT] [--allow-missing]
/// [--pretokenized] [--gallery OUT.html [--images DIR] [--gallery-max N]]</c>: coco-caption's BLEU-1..4, ROUGE-L
/// and CIDEr-D of COCO-format predictions.
/// </summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var predictions = new Option<FileInfo>("--predictions") { Description = "COCO results JSON: [{\"image_id\": ..., \"caption\": ...}]", Required = true };
        var references = new Option<FileInfo>("--references") { Description = "COCO captions JSON: {\"images\": [...], \"annotations\": [{\"image_id\", \"caption\"}]}", Required = true };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the scores, with every image's, as JSON to this file" };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Score only the reference images that have a prediction (default: any missing is an error)" };
        var pretokenized = new Option<bool>("--pretokenized") { Description = "Captions are already tokenized (e.g. by coco-caption's PTB tokenizer): score them as given" };
        var gallery = new Option<FileInfo?>("--gallery") { Description = "Write a one-file HTML gallery of scored images (predicted caption + references)" };
        var images = new Option<DirectoryInfo?>("--images") { Description = "Folder the references' file_name entries are in (default: the references file's folder)" };
        var galleryMax = new Option<int>("--gallery-max") { Description = "Images in the gallery", DefaultValueFactory = _ => 50 };
        var command = new Command("score", "Score COCO-format predictions: BLEU-1..4, ROUGE-L, CIDEr-D (coco-caption's definitions; "
            + "captions are tokenized by an approximation of its PTB tokenizer unless --pretokenized)")
        {
            predictions, references, json, allowMissing, pretokenized, gallery, images, galleryMax,
        };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var predictionsPath = result.GetValue(predictions)!.FullName;
            var referencesPath = result.GetValue(references)!.FullName;
            if (result.GetValue(galleryMax) < 0) throw new CliException("--gallery-max must be 0 or more");

            var predicted = CocoResults.ReadPredictions(predictionsPath);
            var coco = CocoResults.ReadReferences(referencesPath);
            if (predicted.Count == 0) throw new CliException($"{predictionsPath}: no predictions to score");

            var unknown = predicted.Keys.Where(id => !coco.Captions.ContainsKey(id)).ToList();
            if (unknown.Count > 0)
                throw new CliException($"{unknown.Count} predicted images are not in {referencesPath}: {CaptionScorer.ListIds(unknown)}");
            var unpredicted = coco.Captions.Keys.Where(id => !predicted.ContainsKey(id)).ToList();
            if (unpredicted.Count > 0 && !result.GetValue(allowMissing))
                throw new CliException($"{unpredicted.Count} reference images have no prediction in {predictionsPath}: "
                    + $"{CaptionScorer.ListIds(unpredicted)} (--allow-missing scores only the predicted ones)");

            var scoredReferences = predicted.Keys.ToDictionary(id => id, id => coco.Captions[id], StringComparer.Ordinal);
            bool asGiven = result.GetValue(pretokenized);
            var report = asGiven
                ? CaptionScorer.ScoreTokenized(predicted, scoredReferences)
                : CaptionScorer.Score(predicted, scoredReferences);

            CaptionScorer.WriteTable(report, output);
            var scene = SceneErrors.Analyze(predicted.Select(p => (p.Value, coco.Captions[p.Key])));
            scene?.WriteTable(output);
            if (unpredicted.Count > 0) output.WriteLine($"skipped: {unpredicted.Count} reference images without a prediction");

            if (result.GetValue(json) is { } jsonFile)
            {
                CaptionScorer.WriteJson(report, jsonFile.FullName, asGiven ? CaptionScorer.AsGiven : CaptionScorer.PtbApproximation, scene);
                output.WriteLine($"wrote {jsonFile.FullName}");
            }

            if (result.GetValue(gallery) is { } galleryFile)
            {
                var root = result.GetValue(images)?.FullName ?? Path.GetDirectoryName(referencesPath)!;
                var items = predicted.Select(p => (
                    ImagePath: coco.FileNames.TryGetValue(p.Key, out var name) ? Path.Combine(root, name) : "",
                    Prediction: p.Value,
                    References: coco.Captions[p.Key]));
                Gallery.Write(galleryFile.FullName, items, result.GetValue(galleryMax));
                output.WriteLine($"wrote {galleryFile.FullName}");
            }
        });
        return command;
    }
}
