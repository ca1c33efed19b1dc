using System.Text.Json;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using CaptionService.Model.Text;
using CaptionService.Training.Cli;
using CaptionService.Training.Data;
using CaptionService.Training.Data.Synthetic;
using CaptionService.Training.Training;
using TorchSharp;

namespace CaptionService.Training.Tests.Training;

/// <summary>Synthesize a few dozen images, train the tiny model a few steps, resume, evaluate.</summary>
[Collection(SerialCollection.Name)]
public sealed class EndToEndTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("e2e-").FullName;

    public EndToEndTests() => SynthData.Generate(Path.Combine(dir, "synth"), images: 40, seed: 3, imageSize: 32);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static readonly TrainOptions Options = TrainOptions.For(Presets.Tiny) with { Epochs = 2, BatchSize = 8, MaxLearningRate = 3e-3, Workers = 2, LogEvery = 1 };

    private (Loader Train, Loader Val) Loaders(TrainOptions? options = null)
    {
        options ??= Options;
        var train = DatasetReader.Read(Path.Combine(dir, "synth", "captions_train.json"));
        var val = DatasetReader.Read(Path.Combine(dir, "synth", "captions_val.json"));
        var pre = new ImagePreprocessor(Presets.Tiny);
        return (new Loader(train.Images, pre, CaptionTokenizer.Default, options.Loading, train: true),
                new Loader(val.Images, pre, CaptionTokenizer.Default, options.Loading with { Augment = AugmentOptions.None }, train: false));
    }

    private static Captioner Fresh()
    {
        torch.manual_seed(11);
        return new Captioner(Presets.Tiny);
    }

    /// <summary>Cancels the run once it reaches a given batch of a given epoch (Ctrl+C in a test).</summary>
    private sealed class StopAt(int epoch, int batch, CancellationTokenSource cancel) : ITrainingReporter
    {
        public void Message(string text) { }

        public void Epoch(int e, int epochs, int batches, int alreadyDone, Action<Action<int, double, double, double>> run) =>
            run((done, _, _, _) => { if (e == epoch && done >= batch) cancel.Cancel(); });
    }

    [Fact]
    public void Loss_falls_and_an_interrupted_run_resumes_exactly()
    {
        var (train, val) = Loaders();
        var straight = Fresh();
        var whole = new Trainer(straight, train, val, Options, Path.Combine(dir, "straight"), new TextReporter(TextWriter.Null)).Run();
        Assert.False(whole.Interrupted);
        Assert.Equal(2, whole.History.Count);
        Assert.True(whole.History[1].TrainLoss < whole.History[0].TrainLoss, $"train loss {whole.History[0].TrainLoss} -> {whole.History[1].TrainLoss}");
        Assert.True(whole.History[1].ValLoss < whole.History[0].ValLoss);
        foreach (var file in new[] { "metrics.csv", "metrics.json", "curves.png", "best/model.safetensors", "last/training_state.json" })
            Assert.True(File.Exists(Path.Combine(dir, "straight", file)), file);

        // The same run, stopped in the middle of epoch 2 and resumed from what it saved.
        var output = Path.Combine(dir, "interrupted");
        using var cancel = new CancellationTokenSource();
        var stopped = new Trainer(Fresh(), train, val, Options, output, new StopAt(1, 2, cancel)).Run(cancel: cancel.Token);
        Assert.True(stopped.Interrupted);
        var state = TrainingState.Load(Path.Combine(output, "last"));
        Assert.Equal((1, 2), (state.Epoch, state.BatchInEpoch));

        var resumedModel = Checkpoint.Load(Path.Combine(output, "last"));
        var resumed = new Trainer(resumedModel, train, val, Options, output, new TextReporter(TextWriter.Null)).Run(state);
        Assert.False(resumed.Interrupted);
        Assert.Equal(whole.History[1].ValLoss, resumed.History[1].ValLoss, 5);
        Assert.Equal(whole.History[1].TrainLoss, resumed.History[1].TrainLoss, 4); // the whole epoch, not only its resumed part
        var expected = straight.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in resumedModel.named_parameters())
            Assert.True(p.allclose(expected[name], rtol: 1e-5, atol: 1e-6), $"{name} differs after resume");
    }

    /// <summary>Records the batches at which the loss was reported.</summary>
    private sealed class Steps : ITrainingReporter
    {
        public List<int> Reported { get; } = [];

        public void Message(string text) { }

        public void Epoch(int e, int epochs, int batches, int alreadyDone, Action<Action<int, double, double, double>> run) =>
            run((done, loss, _, _) => { Assert.True(loss > 0); Reported.Add(done); });
    }

    [Fact]
    public void Max_steps_ends_the_run_and_the_loss_is_read_only_at_the_logging_interval()
    {
        // Every caption a sample: 18 batches in an epoch, so the five steps end inside the first.
        var options = Options with { Captions = CaptionSampling.Each, MaxSteps = 5, LogEvery = 2 };
        var (train, val) = Loaders(options);
        var reporter = new Steps();
        var result = new Trainer(Fresh(), train, val, options, Path.Combine(dir, "steps"), reporter).Run();
        Assert.False(result.Interrupted);
        Assert.Single(result.History);
        Assert.Equal([2, 4, 5], reporter.Reported);
        var state = TrainingState.Load(Path.Combine(dir, "steps", "last"));
        Assert.Equal(5, state.GlobalStep);
        Assert.True(File.Exists(Path.Combine(dir, "steps", "best", "model.safetensors")));
    }

    [Fact]
    public void A_corrupt_training_or_test_image_is_named()
    {
        var synth = Path.Combine(dir, "synth");
        var train = DatasetReader.Read(Path.Combine(synth, "captions_train.json"));
        var test = DatasetReader.Read(Path.Combine(synth, "captions_test.json"));
        foreach (var path in new[] { train.Images[5].ImagePath, test.Images[1].ImagePath })
            File.WriteAllBytes(path, File.ReadAllBytes(path)[..40]);

        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(CliRunner.CreateRoot(), ["train", "--data", Path.Combine(synth, "captions_train.json"),
            "--val-data", Path.Combine(synth, "captions_val.json"), "--preset", "tiny", "--out", Path.Combine(dir, "bad"),
            "--epochs", "1", "--batch-size", "8"], stdout, stderr);
        Assert.Equal(2, code);
        Assert.Contains(train.Images[5].ImagePath, stderr.ToString());

        stderr = new StringWriter();
        code = CliRunner.Run(CliRunner.CreateRoot(), ["evaluate", "--preset", "tiny", "--data", Path.Combine(synth, "captions_test.json")],
            stdout, stderr);
        Assert.Equal(2, code);
        Assert.Contains(test.Images[1].ImagePath, stderr.ToString());
    }

    [Fact]
    public void The_command_line_trains_evaluates_and_writes_coco_results()
    {
        var synth = Path.Combine(dir, "synth");
        var output = Path.Combine(dir, "cli");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliRunner.Run(CliRunner.CreateRoot(), ["train", "--data", Path.Combine(synth, "captions_train.json"),
            "--val-data", Path.Combine(synth, "captions_val.json"), "--preset", "tiny", "--out", output,
            "--epochs", "1", "--batch-size", "8", "--device", "cpu"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Contains("trainable parameters", stdout.ToString());

        var eval = Path.Combine(dir, "eval");
        code = CliRunner.Run(CliRunner.CreateRoot(), ["evaluate", "--checkpoint", Path.Combine(output, "best"),
            "--data", Path.Combine(synth, "captions_test.json"), "--out", eval, "--max-tokens", "12"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Contains("BLEU-4:", stdout.ToString());
        Assert.Contains("CIDEr-D:", stdout.ToString());

        // COCO results format: a list of {image_id, caption}, one per test image, integer ids.
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(eval, "results.json")));
        var test = DatasetReader.Read(Path.Combine(synth, "captions_test.json"));
        Assert.Equal(test.Images.Count, results.RootElement.GetArrayLength());
        foreach (var item in results.RootElement.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.Number, item.GetProperty("image_id").ValueKind);
            Assert.Equal(JsonValueKind.String, item.GetProperty("caption").ValueKind);
        }
        Assert.True(File.Exists(Path.Combine(eval, "gallery.html")));
    }
}
