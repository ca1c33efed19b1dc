using System.CommandLine;
using System.Diagnostics;
using CaptionService.Model;
using CaptionService.Training.Data;
using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner evaluate --checkpoint DIR --data FILE [--split test] [--out DIR]</c>: captions every
/// image of the split (batched, any decoding), scores them against all references per image
/// (BLEU-1..4, ROUGE-L, CIDEr-D as coco-caption defines them, and the exact-match rate; per-attribute
/// errors for synthetic scenes), and writes <c>results.json</c> (COCO results format), <c>metrics.json</c>
/// and <c>gallery.html</c>. The images come from <see cref="DatasetSplits"/>, with the split options of the
/// checkpoint's run (<see cref="RunSplits"/>) when the file is the run's training file; images the run trained
/// on are refused unless the split asked for is "train".
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new ModelArguments();
        var decoding = new DecodingArguments();
        var data = new Option<FileInfo>("--data") { Description = "Annotations (any format captioner train reads)", Required = true };
        var split = new Option<string?>("--split")
        {
            Description = "train, val, test or all (default: test for a file with splits of its own or the checkpoint's training file, else all)",
        };
        var splitsFile = new Option<FileInfo?>("--splits") { Description = "The training run's splits.json (default: beside the checkpoint or in the folder above it)" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 16 };
        var outDir = new Option<DirectoryInfo?>("--out") { Description = "Folder for results.json, metrics.json and gallery.html" };
        var galleryCount = new Option<int>("--gallery") { Description = "Images in the HTML gallery", DefaultValueFactory = _ => 50 };
        var command = new Command("evaluate", "Caption a dataset split and score it (BLEU, ROUGE-L, CIDEr-D, exact match)")
        {
            data, split, splitsFile, batchSize, outDir, galleryCount,
        };
        var reading = new DataArguments();
        reading.AddTo(command);
        var splitting = new SplitArguments();
        splitting.AddTo(command);
        model.AddTo(command);
        decoding.AddTo(command);
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var dataFile = result.GetValue(data)!;
            var dataset = reading.Read(result, dataFile, output);
            var run = FindRun(result.GetValue(splitsFile), result.GetValue(model.Checkpoint));
            bool trainingFile = run?.Splits.IsTrainingFile(dataFile.FullName) == true;
            var which = result.GetValue(split) ?? (DatasetSplits.HasOwnSplits(dataset) || trainingFile ? "test" : "all");
            var splitOptions = splitting.Resolve(result, trainingFile ? run!.Value.Splits.Options : new SplitOptions());
            var images = which == "all" ? dataset.Images : DatasetSplits.Select(dataset, which, splitOptions).Images;
            if (images.Count == 0)
                throw new CliException($"{dataset.Source}: no images in split '{which}' ("
                    + (DatasetSplits.HasOwnSplits(dataset)
                        ? "the file's own splits: " + string.Join(", ", dataset.Images.GroupBy(i => i.Split ?? "none").Select(g => $"{g.Key} {g.Count()}"))
                        : FormattableString.Invariant($"split by image: val {splitOptions.ValFraction:P0}, test {splitOptions.TestFraction:P0}"))
                    + "); choose one with --split");
            if (run is var (runSplits, runPath))
            {
                var trained = runSplits.TrainedOn(dataFile.FullName, images);
                if (trained.Count > 0 && which != "train")
                    throw new CliException($"{trained.Count} of the {images.Count} '{which}' images of {dataset.Source} were used to train this checkpoint "
                        + $"(see {runPath}; e.g. {CaptionScorer.ListIds(trained.Take(5).Select(i => i.ImageId).ToList())}): their scores would be training scores. "
                        + "Evaluate the run's own test split (the default for its training file) or a file it did not train on; --split train scores training images on purpose");
                output.WriteLine($"checked against {runPath}: none of these {images.Count} images was trained on" + (which == "train" ? " (asked for: train)" : ""));
            }
            else if (result.GetValue(model.Checkpoint) is not null)
                output.WriteLine($"note: no {RunSplits.FileName} beside the checkpoint, so these images cannot be checked against its training images");

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
            var scene = SceneErrors.Analyze(images.Select(i => (predictions[i.ImageId], i.Captions)));
            scene?.WriteTable(output);

            if (result.GetValue(outDir) is DirectoryInfo dir)
            {
                Directory.CreateDirectory(dir.FullName);
                CocoResults.WritePredictions(Path.Combine(dir.FullName, "results.json"), predictions);
                CaptionScorer.WriteJson(report, Path.Combine(dir.FullName, "metrics.json"), scene: scene);
                Gallery.Write(Path.Combine(dir.FullName, "gallery.html"),
                    images.Select(i => (i.ImagePath, predictions[i.ImageId], i.Captions)), result.GetValue(galleryCount));
                output.WriteLine($"wrote {dir.FullName}/results.json, metrics.json, gallery.html");
            }
        });
        return command;
    }

    /// <summary>The run's splits: the file given, else <c>splits.json</c> beside the checkpoint or above it.</summary>
    /// <summary>The run that trained the checkpoint: --splits, else splits.json beside a local checkpoint (a Hub model has none).</summary>
    private static (RunSplits Splits, string Path)? FindRun(FileInfo? file, string? checkpoint)
    {
        if (file is not null)
            return file.Exists ? (RunSplits.Load(file.FullName), file.FullName) : throw new CliException($"--splits: {file.FullName} not found");
        return checkpoint is not null && Directory.Exists(checkpoint) ? RunSplits.Find(Path.GetFullPath(checkpoint)) : null;
    }
}
