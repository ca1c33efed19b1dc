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
/// Unset options take the recipe's defaults (<see cref="TrainOptions.For"/>: by the model's size, or <c>--recipe</c>).
/// The images come from <see cref="DatasetSplits.Plan"/> (a file without splits of its own loses its test share
/// to the split by image, never to training) and are recorded in <c>OUT/splits.json</c>.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<FileInfo?>("--data") { Description = "Training annotations (COCO, Karpathy, Flickr token/CSV, CSV, JSONL)" };
        var valData = new Option<FileInfo?>("--val-data") { Description = "Validation annotations; default: the data's own 'val' split, else its split by image" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Start from this checkpoint (from init or import-pretrained, an HF ViT-GPT2 folder, or hf:OWNER/NAME[@REVISION])" };
        var preset = new Option<string?>("--preset") { Description = $"Start from random weights of a preset: {string.Join(", ", Presets.All.Keys)}" };
        var resume = new Option<DirectoryInfo?>("--resume") { Description = "Continue the run in this output folder exactly where it stopped" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder (last/, best/, splits.json, metrics.csv, metrics.json, curves.png)" };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
        var recipe = new Option<string?>("--recipe")
        {
            Description = "fine-tune (the seed's: lr 1e-4, 5 epochs, staged unfreezing) or from-scratch (lr 3e-3, 30 epochs, everything at once, "
                + "one caption per image per epoch); default: fine-tune for models wider than 256, else from-scratch",
        };
        var epochs = new Option<int?>("--epochs");
        var batchSize = new Option<int?>("--batch-size");
        var lr = new Option<double?>("--lr") { Description = "OneCycle's max learning rate" };
        var warmup = new Option<double?>("--warmup") { Description = "Fraction of steps rising to the max learning rate" };
        var weightDecay = new Option<double?>("--weight-decay") { Description = "AdamW weight decay of layer weights (never biases, norms, embeddings)" };
        var decoderAt = new Option<int?>("--unfreeze-decoder-at") { Description = "First epoch (0-based) in which GPT-2 trains" };
        var encoderAt = new Option<int?>("--unfreeze-encoder-at") { Description = "First epoch (0-based) in which the ViT trains" };
        var maxLength = new Option<int?>("--max-length") { Description = "Longest training sequence in tokens" };
        var precision = new Option<string?>("--precision") { Description = "fp32, bf16 (CPU or CUDA) or fp16 (CUDA, with loss scaling)" };
        var clip = new Option<double?>("--clip-norm") { Description = "Gradient norm clip (0: off)" };
        var accumulation = new Option<int?>("--accumulation") { Description = "Micro-batches per optimizer step" };
        var seed = new Option<int?>("--seed");
        var workers = new Option<int?>("--workers") { Description = "Image decoding threads" };
        var noAugment = new Option<bool>("--no-augment") { Description = "Turn off flips, colour jitter and shift-scale-rotate (--augment none)" };
        var augment = new Option<string?>("--augment") { Description = "The augmentations to use, from flip, colour, affine (comma-separated), or none; default: all three" };
        var captions = new Option<string?>("--captions") { Description = "each (every reference caption a sample), one (each image once per epoch, one of its captions) or all (each image once per epoch with all of its captions, encoded once; --batch-size counts images)" };
        var valCaptions = new Option<int?>("--val-captions") { Description = "Validation images captioned greedily after each epoch, to report the share exactly right (0: off)" };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Stop after this many optimizer steps (a smoke run); the schedule fits them" };
        var limitImages = new Option<int?>("--limit-images") { Description = "Use at most this many images of train and of val (a smoke run)" };
        var logEvery = new Option<int?>("--log-every") { Description = "Optimizer steps between reads of the loss from the device" };
        var vocabulary = new Option<string>("--vocabulary")
        {
            Description = "With --preset, the tokens the model has: captions (those of the training and validation captions: a few hundred "
                + "rows instead of 50,257, so a much smaller file and LM head) or gpt2 (all of GPT-2's)",
            DefaultValueFactory = _ => "captions",
        };
        var command = new Command("train", "Train a captioner")
        {
            data, valData, checkpoint, preset, resume, output, device, recipe,
            epochs, batchSize, lr, warmup, weightDecay, decoderAt, encoderAt, maxLength, precision, clip, accumulation, seed, workers, noAugment,
            augment, captions, valCaptions, maxSteps, limitImages, logEvery, vocabulary,
        };
        var reading = new DataArguments();
        reading.AddTo(command);
        var splitting = new SplitArguments();
        splitting.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var outWriter = result.InvocationConfiguration.Output;
            var resumeDir = result.GetValue(resume);
            var outDir = resumeDir?.FullName ?? result.GetValue(output)?.FullName ?? throw new CliException("give --out DIR (or --resume DIR)");
            var dev = TorchRuntime.ResolveDevice(result.GetValue(device)!);

            Captioner? model = null;
            ModelConfig config;          // model's, or the preset's until the captions give it its vocabulary
            TrainingState? state = null;
            TrainOptions options;
            if (resumeDir is not null)
            {
                var last = Path.Combine(resumeDir.FullName, "last");
                state = TrainingState.Load(last);
                options = state.Options; // a resumed run keeps its recipe
                model = Checkpoint.Load(last, dev);
                config = model.Config;
            }
            else
            {
                var (dir, name) = (result.GetValue(checkpoint), result.GetValue(preset));
                if ((dir is null) == (name is null)) throw new CliException("give exactly one of --checkpoint DIR|hf:OWNER/NAME, --preset NAME or --resume DIR");
                if (dir is not null)
                {
                    var resolved = HubModels.Resolve(dir, ModelPurpose.Captioner, result.InvocationConfiguration.Error);
                    model = Checkpoint.Load(resolved.Directory, dev, convertedWeights: resolved.ConvertedWeights);
                    config = model.Config;
                }
                else config = Presets.Get(name!);
                var d = result.GetValue(recipe) is string r ? TrainOptions.Of(ParseRecipe(r)) : TrainOptions.For(config);
                options = d with
                {
                    Epochs = result.GetValue(epochs) ?? d.Epochs,
                    BatchSize = result.GetValue(batchSize) ?? d.BatchSize,
                    MaxLearningRate = result.GetValue(lr) ?? d.MaxLearningRate,
                    WarmupFraction = result.GetValue(warmup) ?? d.WarmupFraction,
                    WeightDecay = result.GetValue(weightDecay) ?? d.WeightDecay,
                    UnfreezeDecoderAt = result.GetValue(decoderAt) ?? d.UnfreezeDecoderAt,
                    UnfreezeEncoderAt = result.GetValue(encoderAt) ?? d.UnfreezeEncoderAt,
                    MaxLength = Math.Min(result.GetValue(maxLength) ?? d.MaxLength, config.MaxPositions),
                    Precision = result.GetValue(precision) is string p ? TorchRuntime.ParsePrecision(p) : d.Precision,
                    ClipNorm = result.GetValue(clip) ?? d.ClipNorm,
                    Accumulation = result.GetValue(accumulation) ?? d.Accumulation,
                    Seed = result.GetValue(seed) ?? d.Seed,
                    Workers = result.GetValue(workers) ?? d.Workers,
                    Augment = result.GetValue(noAugment) ? AugmentOptions.None
                        : result.GetValue(augment) is string a ? ParseAugment(a, d.Augment) : d.Augment,
                    Captions = result.GetValue(captions) is string c ? ParseCaptions(c) : d.Captions,
                    ValCaptions = result.GetValue(valCaptions) ?? d.ValCaptions,
                    MaxSteps = result.GetValue(maxSteps) ?? d.MaxSteps,
                    LimitImages = result.GetValue(limitImages) ?? d.LimitImages,
                    LogEvery = result.GetValue(logEvery) ?? d.LogEvery,
                    Split = splitting.Resolve(result, d.Split),
                };
                var errors = options.Validate().ToList();
                if (errors.Count > 0) throw new CliException(string.Join("; ", errors.Select(e => "--" + e.Split(' ')[0].Replace('_', '-') + ": " + e)));
            }
            TorchRuntime.CheckSupported(dev, options.Precision);

            var dataFile = result.GetValue(data) ?? throw new CliException("give --data FILE (training annotations)");
            var dataset = reading.Read(result, dataFile, outWriter);
            var valFile = result.GetValue(valData);
            var valSet = valFile is null ? null : reading.Read(result, valFile, outWriter);
            var plan = DatasetSplits.Plan(dataset, valSet, options.Split);
            if (options.LimitImages > 0)
                plan = plan with { Train = plan.Train.Take(options.LimitImages).ToList(), Val = plan.Val.Take(options.LimitImages).ToList() };
            if (plan.Train.Count == 0 || plan.Val.Count == 0)
                throw new CliException($"need training and validation images (got {plan.Train.Count} and {plan.Val.Count})");
            var splits = RunSplits.Of(dataFile.FullName, valFile?.FullName, plan, options.Split);
            if (resumeDir is not null) CheckSameSplits(outDir, splits);
            else
            {
                Directory.CreateDirectory(outDir);
                splits.Save(outDir);
            }

            bool ownVocabulary = model is null;    // built from these very captions below: nothing to check
            if (model is null)
            {
                if (ParseVocabulary(result.GetValue(vocabulary)!))
                    config = CaptionTokenizer.WithVocabularyOf(config, plan.Train.Concat(plan.Val).SelectMany(i => i.Captions));
                outWriter.WriteLine($"vocabulary: {config.VocabSize} tokens" + (config.TokenIds is null ? " (GPT-2's)" : " (those of the training and validation captions)"));
                torch.manual_seed(result.GetValue(seed) ?? 0);
                model = new Captioner(config);
                model.to(dev);
            }
            else if (result.GetResult(vocabulary) is { Implicit: false })
                throw new CliException("--vocabulary is for --preset: a checkpoint keeps its own tokens");

            var preprocessor = new ImagePreprocessor(model.Config);
            var tokenizer = new CaptionTokenizer(model.Config);
            if (!ownVocabulary && model.Config.TokenIds is not null)
                foreach (var image in plan.Train.Concat(plan.Val))
                    foreach (var caption in image.Captions)
                        try { tokenizer.Encode(caption); }
                        catch (UnknownTokenException e)
                        {
                            throw new CliException($"image {image.ImageId}: {e.Message}; the checkpoint cannot learn new tokens "
                                + "(train from --preset for a vocabulary that has them)");
                        }
            var trainLoader = new Loader(plan.Train, preprocessor, tokenizer, options.Loading, train: true);
            var valLoader = new Loader(plan.Val, preprocessor, tokenizer, options.Loading with { Augment = AugmentOptions.None }, train: false);
            outWriter.WriteLine($"train: {plan.Train.Count} images, {splits.Train.Captions} captions; val: {plan.Val.Count} images, {splits.Val.Captions} captions; "
                + $"test (held out, never trained on): {plan.Test.Count} images"
                + (plan.OwnSplits ? " (the file's own splits)" : FormattableString.Invariant(
                    $" (split by image: val {options.Split.ValFraction:P0}, test {options.Split.TestFraction:P0}, seed {options.Split.Seed})"))
                + $"; recorded in {Path.Combine(outDir, RunSplits.FileName)}");
            outWriter.WriteLine($"samples per epoch: {trainLoader.Samples} ({options.Captions switch
            {
                CaptionSampling.One => "each image once, one of its captions",
                CaptionSampling.All => "each image once, with all of its captions",
                _ => "every caption",
            }})");
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
                var trained = new Trainer(model, trainLoader, valLoader, options, outDir, reporter, plan.Val).Run(state, interrupt.Token);
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

    /// <summary>True: the captions' own tokens; false: GPT-2's.</summary>
    private static bool ParseVocabulary(string name) => name.Trim().ToLowerInvariant() switch
    {
        "captions" => true,
        "gpt2" or "gpt-2" => false,
        _ => throw new CliException($"--vocabulary: '{name}' is not captions or gpt2"),
    };

    private static Recipe ParseRecipe(string name) => name.Trim().ToLowerInvariant() switch
    {
        "fine-tune" or "finetune" => Recipe.FineTune,
        "from-scratch" or "scratch" => Recipe.FromScratch,
        _ => throw new CliException($"--recipe: unknown recipe '{name}' (fine-tune or from-scratch)"),
    };

    /// <summary>"flip,affine": those at their default strength, the others off; "none": all off.</summary>
    private static AugmentOptions ParseAugment(string list, AugmentOptions defaults)
    {
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(n => n.ToLowerInvariant()).ToHashSet();
        var unknown = names.Except(["flip", "colour", "color", "affine", "none"]).ToList();
        if (unknown.Count > 0 || names.Count == 0 || (names.Contains("none") && names.Count > 1))
            throw new CliException($"--augment: '{list}' is not a list of flip, colour, affine, or none");
        return defaults with
        {
            FlipProbability = names.Contains("flip") ? defaults.FlipProbability : 0,
            ColourProbability = names.Contains("colour") || names.Contains("color") ? defaults.ColourProbability : 0,
            AffineProbability = names.Contains("affine") ? defaults.AffineProbability : 0,
        };
    }

    private static CaptionSampling ParseCaptions(string name) => name.Trim().ToLowerInvariant() switch
    {
        "each" => CaptionSampling.Each,
        "one" => CaptionSampling.One,
        "all" => CaptionSampling.All,
        _ => throw new CliException($"--captions: unknown value '{name}' (each, one or all)"),
    };

    /// <summary>A resumed run must train on what it started with: the same images in train and val.</summary>
    private static void CheckSameSplits(string outDir, RunSplits now)
    {
        var path = Path.Combine(outDir, RunSplits.FileName);
        if (!File.Exists(path)) throw new CliException($"{path} is missing: cannot check that the resumed run trains on the same images");
        var recorded = RunSplits.Load(path);
        foreach (var (name, was, @is) in new[] { ("train", recorded.Train, now.Train), ("val", recorded.Val, now.Val) })
            if (!was.Ids.SequenceEqual(@is.Ids))
                throw new CliException($"the {name} images differ from the run's ({was.Images} recorded in {path}, {@is.Images} now): resume with the same --data and --val-data");
    }
}
