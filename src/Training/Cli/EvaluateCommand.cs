using System.CommandLine;
using System.Diagnostics;
using CaptionService.Model;
using CaptionService.Training.Data;
using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner evaluate --checkpoint DIR --data FILE [--split test] [--out DIR]</c>: captions every
/// image of the split (batched, any decoding), scores them against all references per image
/// (BLEU-1..4, ROUGE-L, CIDEr-D as coco-caption defines them), and writes <c>results.json</c>
/// (COCO results format), <c>metrics.json</c> and <c>gallery.html</c>.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new ModelArguments();
        var decoding = new DecodingArguments();
        var data = new Option<FileInfo>("--data") { Description = "Annotations (any format captioner train reads)", Required = true };
        var split = new Option<string?>("--split") { Description = "train, val, test or all (default: test when the file has splits, else all)" };
        var valFraction = new Option<double>("--val-fraction") { Description = "When splitting by image: as given to train", DefaultValueFactory = _ => 0.05 };
        var testFraction = new Option<double>("--test-fraction") { Description = "When splitting by image", DefaultValueFactory = _ => 0.05 };
        var splitSeed = new Option<int>("--split-seed") { Description = "When splitting by image: train's --seed", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 16 };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Folder for results.json, metrics.json and gallery.html" };
        var galleryCount = new Option<int>("--gallery") { Description = "Images in the HTML gallery", DefaultValueFactory = _ => 50 };
        var command = new Command("evaluate", "Caption a dataset split and score it (BLEU, ROUGE-L, CIDEr-D)")
        {
            data, split, valFraction, testFraction, splitSeed, batchSize, outDir, galleryCount,
        };
        var reading = new DataArguments();
        reading.AddTo(command);
        model.AddTo(command);
        decoding.AddTo(command);
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var dataset = reading.Read(result, result.GetValue(data)!, output);
            bool ownSplits = dataset.Images.Any(i => i.Split is not null);
            var which = result.GetValue(split) ?? (ownSplits ? "test" : "all");
            var images = which == "all" ? dataset.Images
                : DatasetSplits.Select(dataset, which, new SplitOptions(result.GetValue(valFraction), result.GetValue(testFraction), result.GetValue(splitSeed))).Images;
            if (images.Count == 0) throw new CliException($"{dataset.Source}: no images in split '{which}'");

            var (captioner, source) = model.Load(result);
            var options = decoding.Resolve(result, captioner.Config.Decoding);
            var pipeline = new CaptionPipeline(captioner);
            output.WriteLine($"{source}: captioning {images.Count} images ({which}) with {options.Strategy.ToString().ToLowerInvariant()} decoding");

            var predictions = new Dictionary<string, string>();
            var watch = Stopwatch.StartNew();
            foreach (var chunk in images.Chunk(Math.Max(1, result.GetValue(batchSize))))
            {
                var captions = pipeline.Caption(chunk.Select(i => ImageFiles.Load(pipeline.Preprocessor, i.ImagePath)).ToList(), options);
                foreach (var (image, caption) in chunk.Zip(captions)) predictions[image.ImageId] = caption.Text;
            }
            output.WriteLine(FormattableString.Invariant($"{images.Count} captions in {watch.Elapsed.TotalSeconds:F1} s ({images.Count / watch.Elapsed.TotalSeconds:F1} images/s)"));

            var references = images.ToDictionary(i => i.ImageId, i => i.Captions);
            var report = CaptionScorer.Score(predictions, references);
            CaptionScorer.WriteTable(report, output);

            if (result.GetValue(outDir) is DirectoryInfo dir)
            {
                Directory.CreateDirectory(dir.FullName);
                CocoResults.WritePredictions(Path.Combine(dir.FullName, "results.json"), predictions);
                CaptionScorer.WriteJson(report, Path.Combine(dir.FullName, "metrics.json"));
                Gallery.Write(Path.Combine(dir.FullName, "gallery.html"),
                    images.Select(i => (i.ImagePath, predictions[i.ImageId], i.Captions)), result.GetValue(galleryCount));
                output.WriteLine($"wrote {dir.FullName}/results.json, metrics.json, gallery.html");
            }
        });
        return command;
    }
}
