using Spectre.Console;

namespace CaptionService.Training.Training;

/// <summary>What a training run tells the person watching it.</summary>
public interface ITrainingReporter
{
    void Message(string text);
    /// <summary>Runs one epoch's batches with a progress display; <paramref name="run"/> calls
    /// <c>step</c> with (batches done, loss, lr, tokens/s) every few optimizer steps (each call reads the loss
    /// from the device) and after the epoch's last.</summary>
    void Epoch(int epoch, int epochs, int batches, int alreadyDone, Action<Action<int, double, double, double>> run);
}

/// <summary>Plain lines, a few per epoch: for logs, CI and tests.</summary>
public sealed class TextReporter(TextWriter output, int linesPerEpoch = 4) : ITrainingReporter
{
    public void Message(string text) => output.WriteLine(text);

    public void Epoch(int epoch, int epochs, int batches, int alreadyDone, Action<Action<int, double, double, double>> run)
    {
        int every = Math.Max(1, batches / Math.Max(1, linesPerEpoch)), printed = alreadyDone;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        run((done, loss, lr, tokensPerSecond) =>
        {
            if (done - printed < every && done != batches) return;
            printed = done;
            double perBatch = watch.Elapsed.TotalSeconds / Math.Max(1, done - alreadyDone);
            output.WriteLine(FormattableString.Invariant(
                $"epoch {epoch + 1}/{epochs} batch {done}/{batches} loss {loss:F4} lr {lr:E2} {tokensPerSecond:F0} tok/s ETA {TimeSpan.FromSeconds(perBatch * (batches - done)):mm\\:ss}"));
        });
    }
}

/// <summary>A live progress bar with loss, learning rate, tokens/s and ETA (interactive terminals).</summary>
public sealed class ProgressBarReporter : ITrainingReporter
{
    public void Message(string text) => AnsiConsole.MarkupLine(Markup.Escape(text));

    public void Epoch(int epoch, int epochs, int batches, int alreadyDone, Action<Action<int, double, double, double>> run) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"epoch {epoch + 1}/{epochs}", maxValue: batches);
                task.Value = alreadyDone;
                run((done, loss, lr, tokensPerSecond) =>
                {
                    task.Value = done;
                    task.Description = FormattableString.Invariant($"epoch {epoch + 1}/{epochs} loss {loss:F4} lr {lr:E2} {tokensPerSecond:F0} tok/s");
                });
            });
}
