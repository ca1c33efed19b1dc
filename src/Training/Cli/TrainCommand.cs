using System.CommandLine;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using CaptionService.Model.Text;
using CaptionService.Training.Data;
using CaptionService.Training.Training;
using TorchSharp;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner train --data FILE [--val-data FILE] (--checkpoint DIR | --preset NAME | --resume OUT) --out OUT</c>.
/// Unset options take <see cref="TrainOptions.For"/>'s defaults for the model's size.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<FileInfo?>("--data") { Description = "Training annotations (COCO, Karpathy, Flickr token/CSV, CSV, JSONL)" };
        var valData = new Option<FileInfo?>("--val-data") { Description = "Validation annotations; default: the data's own 'val' split, else a split by image" };
        var valFraction = new Option<double>("--val-fraction") { Description = "Validation share when splitting by image", DefaultValueFactory = _ => 0.05 };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Start from this checkpoint (from init or import-pretrained, an HF ViT-GPT2 folder, or hf:OWNER/NAME[@REVISION])" };
        var preset = new Option<string?>("--preset") { Description = "Start from random weights of a preset" };
        var resume = new Option<DirectoryInfo?>("--resume") { Description = "Continue the run in this output folder exactly where it stopped" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder (last/, best/, metrics.csv, metrics.json, curves.png)" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var epochs = new Option<int?>("--epochs");
        var batchSize = new Option<int?>("--batch-size");
        var lr = new Option<double?>("--lr") { Description = "OneCycle's max learning rate" };
        var warmup = new Option<double?>("--warmup") { Description = "Fraction of steps rising to the max learning rate" };
        var weightDecay = new Option<double?>("--weight-decay");
        var decoderAt = new Option<int?>("--unfreeze-decoder-at") { Description = "First epoch (0-based) in which GPT-2 trains" };
        var encoderAt = new Option<int?>("--unfreeze-encoder-at") { Description = "First epoch (0-based) in which the ViT trains" };
        var maxLength = new Option<int?>("--max-length") { Description = "Longest training sequence in tokens" };
        var precision = new Option<string?>("--precision") { Description = "fp32, bf16 (CPU or CUDA) or fp16 (CUDA, with loss scaling)" };
        var clip = new Option<double?>("--clip-norm") { Description = "Gradient norm clip (0: off)" };
        var accumulation = new Option<int?>("--accumulation") { Description = "Micro-batches per optimizer step" };
        var seed = new Option<int?>("--seed");
        var workers = new Option<int?>("--workers") { Description = "Image decoding threads" };
        var noAugment = new Option<bool>("--no-augment") { Description = "Turn off flips, colour jitter and shift-scale-rotate" };
        var command = new Command("train", "Train a captioner")
        {
            data, valData, valFraction, checkpoint, preset, resume, output, device,
            epochs, batchSize, lr, warmup, weightDecay, decoderAt, encoderAt, maxLength, precision, clip, accumulation, seed, workers, noAugment,
        };
        var reading = new DataArguments();
        reading.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var outWriter = result.InvocationConfiguration.Output;
            var resumeDir = result.GetValue(resume);
            var outDir = resumeDir?.FullName ?? result.GetValue(output)?.FullName ?? throw new CliException("give --out DIR (or --resume DIR)");
            var dev = TorchRuntime.ResolveDevice(result.GetValue(device)!);

            Captioner model;
            TrainingState? state = null;
            TrainOptions options;
            if (resumeDir is not null)
            {
                var last = Path.Combine(resumeDir.FullName, "last");
                state = TrainingState.Load(last);
                options = state.Options; // a resumed run keeps its recipe
                model = Checkpoint.Load(last, dev);
            }
            else
            {
                var (dir, name) = (result.GetValue(checkpoint), result.GetValue(preset));
                if ((dir is null) == (name is null)) throw new CliException("give exactly one of --checkpoint DIR|hf:OWNER/NAME, --preset NAME or --resume DIR");
                if (dir is not null)
                {
                    var resolved = HubModels.Resolve(dir, ModelPurpose.Captioner, result.InvocationConfiguration.Error);
                    model = Checkpoint.Load(resolved.Directory, dev, convertedWeights: resolved.ConvertedWeights);
                }
                else
                {
                    torch.manual_seed(result.GetValue(seed) ?? 0);
                    model = new Captioner(Presets.Get(name!));
                    model.to(dev);
                }
                var d = TrainOptions.For(model.Config);
                options = d with
                {
                    Epochs = result.GetValue(epochs) ?? d.Epochs,
                    BatchSize = result.GetValue(batchSize) ?? d.BatchSize,
                    MaxLearningRate = result.GetValue(lr) ?? d.MaxLearningRate,
                    WarmupFraction = result.GetValue(warmup) ?? d.WarmupFraction,
                    WeightDecay = result.GetValue(weightDecay) ?? d.WeightDecay,
                    UnfreezeDecoderAt = result.GetValue(decoderAt) ?? d.UnfreezeDecoderAt,
                    UnfreezeEncoderAt = result.GetValue(encoderAt) ?? d.UnfreezeEncoderAt,
                    MaxLength = Math.Min(result.GetValue(maxLength) ?? d.MaxLength, model.Config.MaxPositions),
                    Precision = result.GetValue(precision) is string p ? TorchRuntime.ParsePrecision(p) : d.Precision,
                    ClipNorm = result.GetValue(clip) ?? d.ClipNorm,
                    Accumulation = result.GetValue(accumulation) ?? d.Accumulation,
                    Seed = result.GetValue(seed) ?? d.Seed,
                    Workers = result.GetValue(workers) ?? d.Workers,
                    Augment = result.GetValue(noAugment) ? AugmentOptions.None : d.Augment,
                };
                var errors = options.Validate().ToList();
                if (errors.Count > 0) throw new CliException(string.Join("; ", errors.Select(e => "--" + e.Split(' ')[0].Replace('_', '-') + ": " + e)));
            }
            TorchRuntime.CheckSupported(dev, options.Precision);

            var dataFile = result.GetValue(data) ?? throw new CliException("give --data FILE (training annotations)");
            var dataset = reading.Read(result, dataFile, outWriter);
            var split = new SplitOptions(ValFraction: result.GetValue(valFraction), TestFraction: 0, Seed: options.Seed);
            // With a separate validation file, each file is used whole unless it has splits of its own.
            IReadOnlyList<CaptionedImage> OwnSplitOrAll(CaptionDataset set, string name) =>
                set.Images.Any(i => i.Split is not null) ? DatasetSplits.Select(set, name, split).Images : set.Images;
            IReadOnlyList<CaptionedImage> trainImages, valImages;
            if (result.GetValue(valData) is FileInfo valFile)
            {
                var valSet = reading.Read(result, valFile, outWriter);
                trainImages = OwnSplitOrAll(dataset, "train");
                valImages = OwnSplitOrAll(valSet, "val");
            }
            else
            {
                trainImages = DatasetSplits.Select(dataset, "train", split).Images;
                valImages = DatasetSplits.Select(dataset, "val", split).Images;
            }
            if (trainImages.Count == 0 || valImages.Count == 0)
                throw new CliException($"need training and validation images (got {trainImages.Count} and {valImages.Count})");

            var preprocessor = new ImagePreprocessor(model.Config);
            var tokenizer = new CaptionTokenizer(model.Config);
            var trainLoader = new Loader(trainImages, preprocessor, tokenizer, options.Loading, train: true);
            var valLoader = new Loader(valImages, preprocessor, tokenizer, options.Loading with { Augment = AugmentOptions.None }, train: false);
            outWriter.WriteLine($"train: {trainImages.Count} images, {trainLoader.Samples} captions; val: {valImages.Count} images, {valLoader.Samples} captions");
            // The starting checkpoint's transform (a preset's: the seed's), which the saved checkpoints record for serving.
            outWriter.WriteLine($"preprocessing: {model.Config.EffectivePreprocessing.Source}");

            ITrainingReporter reporter = ReferenceEquals(outWriter, Console.Out) && Spectre.Console.AnsiConsole.Profile.Capabilities.Interactive
                ? new ProgressBarReporter()
                : new TextReporter(outWriter);
            // Ctrl+C: finish the current step, save, and exit; a second Ctrl+C is left to the runtime.
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            ConsoleCancelEventHandler onCancel = (_, e) => { if (!interrupt.IsCancellationRequested) { e.Cancel = true; interrupt.Cancel(); } };
            Console.CancelKeyPress += onCancel;
            try
            {
                var trained = new Trainer(model, trainLoader, valLoader, options, outDir, reporter).Run(state, interrupt.Token);
                return Task.FromResult(trained.Interrupted ? 130 : 0);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
                model.Dispose();
            }
        });
        return command;
    }
}
