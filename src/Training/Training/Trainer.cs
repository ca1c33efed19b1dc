using System.Diagnostics;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Training.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Training.Training;

/// <summary>Where a run ended: all epochs done, or stopped early (Ctrl+C) with its state saved.</summary>
public sealed record TrainResult(IReadOnlyList<EpochMetrics> History, bool Interrupted, string LastCheckpoint, string BestCheckpoint);

/// <summary>
/// The training loop: teacher-forced cross-entropy over caption tokens, AdamW on fp32 master
/// weights, OneCycle learning rate, staged unfreezing, gradient accumulation and clipping, mixed
/// precision, per-epoch validation, best and last checkpoints, exact resume.
/// Output folder: <c>last/</c> (checkpoint + training state), <c>best/</c> (lowest val loss),
/// <c>metrics.csv</c>, <c>metrics.json</c>, <c>curves.png</c>.
/// </summary>
public sealed class Trainer(Captioner model, Loader train, Loader val, TrainOptions options, string outDir, ITrainingReporter reporter)
{
    public string LastDir => Path.Combine(outDir, "last");
    public string BestDir => Path.Combine(outDir, "best");

    /// <param name="resume">a saved state (from <c>last/</c>) to continue exactly, or null for a new run</param>
    public TrainResult Run(TrainingState? resume = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        var state = resume ?? new TrainingState { Options = options };
        int stepsPerEpoch = (train.BatchesPerEpoch + options.Accumulation - 1) / options.Accumulation;
        using var precision = new MixedPrecision(model, options.Precision);
        // Every parameter goes to the optimizer; frozen ones simply have no gradient and are skipped.
        using var optimizer = optim.AdamW(model.parameters(), lr: options.MaxLearningRate, weight_decay: options.WeightDecay);
        var scheduler = optim.lr_scheduler.OneCycleLR(optimizer, options.MaxLearningRate, total_steps: options.Epochs * stepsPerEpoch,
            pct_start: options.WarmupFraction);
        if (resume is not null)
        {
            optimizer.load_state_dict(Path.Combine(LastDir, "optimizer.bin"));
            for (long s = 0; s < resume.GlobalStep; s++) scheduler.step();
            using var rng = torch.load(Path.Combine(LastDir, "rng.bin"));
            torch.set_rng_state(rng);
            reporter.Message($"resuming at epoch {resume.Epoch + 1}, batch {resume.BatchInEpoch}, step {resume.GlobalStep}");
        }

        long trainable = -1;
        for (int epoch = state.Epoch; epoch < options.Epochs; epoch++)
        {
            long now = Stages.Apply(epoch, options, model, precision.Work);
            if (now != trainable)
                reporter.Message($"epoch {epoch + 1}: training {Stages.Describe(epoch, options)}: {now:N0} trainable parameters");
            trainable = now;

            var watch = Stopwatch.StartNew();
            var resumed = epoch == state.Epoch ? state : state with { BatchInEpoch = 0, EpochLossSum = 0, EpochTokens = 0 };
            var (lossSum, tokens, done, globalStep) = TrainEpoch(epoch, resumed, precision, optimizer, scheduler, cancel);
            state = state with { GlobalStep = globalStep };
            if (done < train.BatchesPerEpoch)
            {
                SaveLast(state with { Epoch = epoch, BatchInEpoch = done, EpochLossSum = lossSum, EpochTokens = tokens }, optimizer);
                reporter.Message($"interrupted at epoch {epoch + 1}, batch {done}: saved {LastDir}; continue with --resume {outDir}");
                return new TrainResult(state.History, true, LastDir, BestDir);
            }

            double trainLoss = tokens > 0 ? lossSum / tokens : double.NaN;
            double valLoss = Evaluate(precision.Work);
            var row = new EpochMetrics(epoch, trainLoss, valLoss, watch.Elapsed.TotalSeconds,
                watch.Elapsed.TotalSeconds > 0 ? train.Waited.TotalSeconds / watch.Elapsed.TotalSeconds : 0, trainable);
            var history = state.History.Append(row).ToList();
            bool best = valLoss < state.BestValLoss;
            state = state with
            {
                Epoch = epoch + 1,
                BatchInEpoch = 0,
                EpochLossSum = 0,
                EpochTokens = 0,
                History = history,
                BestValLoss = best ? valLoss : state.BestValLoss,
            };
            if (best) Checkpoint.Save(model, BestDir);
            SaveLast(state, optimizer);
            MetricsLog.Write(outDir, history);
            reporter.Message(FormattableString.Invariant(
                $"epoch {epoch + 1}: train loss {trainLoss:F4} (ppl {row.TrainPerplexity:F2}), val loss {valLoss:F4} (ppl {row.ValPerplexity:F2}){(best ? ", best so far" : "")}; {row.Seconds:F0} s, {row.DataWaitFraction:P1} of it waiting for data"));
        }
        reporter.Message(MetricsLog.Table(state.History));
        return new TrainResult(state.History, false, LastDir, BestDir);
    }

    /// <param name="from">where the epoch starts: batches already done and their loss (non-zero after a resume)</param>
    /// <returns>sum of loss x tokens and tokens over the epoch so far, batches done (fewer than the
    /// epoch's when cancelled), global step</returns>
    private (double LossSum, long Tokens, int Done, long GlobalStep) TrainEpoch(int epoch, TrainingState from, MixedPrecision precision,
        OptimizerHelper optimizer, optim.lr_scheduler.LRScheduler scheduler, CancellationToken cancel)
    {
        var work = precision.Work;
        work.train();
        double lossSum = from.EpochLossSum;
        long tokenSum = from.EpochTokens, globalStep = from.GlobalStep;
        int skip = from.BatchInEpoch, done = skip, pending = 0;
        var watch = Stopwatch.StartNew();
        long tokensSinceStart = 0;
        reporter.Epoch(epoch, options.Epochs, train.BatchesPerEpoch, skip, step =>
        {
            foreach (var batch in train.Epoch(epoch, skip))
            {
                using (batch)
                using (var scope = NewDisposeScope())
                {
                    var loss = Loss(work, batch);
                    precision.ScaleLoss(loss.DividedBy(options.Accumulation)).backward();
                    lossSum += loss.item<float>() * batch.Tokens;
                    tokenSum += batch.Tokens;
                    tokensSinceStart += batch.Tokens;
                }
                done++;
                if (++pending == options.Accumulation || done == train.BatchesPerEpoch)
                {
                    if (precision.PrepareGradients())
                    {
                        if (options.ClipNorm > 0) nn.utils.clip_grad_norm_(Stages.Trainable(model), options.ClipNorm);
                        // TorchSharp's AdamW makes throwaway Scalars; see NoGcRegion.
                        NoGcRegion.Run(() => optimizer.step());
                        precision.AfterStep();
                    }
                    precision.ZeroGrad();
                    scheduler.step();
                    globalStep++;
                    pending = 0;
                    step(done, tokenSum > 0 ? lossSum / tokenSum : 0, scheduler.get_last_lr().First(), tokensSinceStart / watch.Elapsed.TotalSeconds);
                    // Stop only on an optimizer-step boundary, so a resume starts with clean gradients.
                    if (cancel.IsCancellationRequested) break;
                }
            }
        });
        return (lossSum, tokenSum, done, globalStep);
    }

    /// <summary>Token-weighted mean validation loss, dropout off.</summary>
    private double Evaluate(Captioner work)
    {
        work.eval();
        using var noGrad = no_grad();
        double sum = 0;
        long tokens = 0;
        foreach (var batch in val.Epoch(0))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                sum += Loss(work, batch).item<float>() * batch.Tokens;
                tokens += batch.Tokens;
            }
        }
        return tokens > 0 ? sum / tokens : double.NaN;
    }

    /// <summary>Mean cross-entropy over the caption tokens (padding labels are ignored), in fp32.</summary>
    private static Tensor Loss(Captioner work, Batch batch) =>
        work.Loss(batch.Pixels.to(work.DType, work.Device), batch.Input.to(work.Device), batch.Labels.to(work.Device), Collate.IgnoreIndex);

    private void SaveLast(TrainingState state, OptimizerHelper optimizer)
    {
        Checkpoint.Save(model, LastDir);
        optimizer.save_state_dict(Path.Combine(LastDir, "optimizer.bin"));
        using var rng = torch.get_rng_state();
        rng.save(Path.Combine(LastDir, "rng.bin"));
        state.Save(LastDir);
    }
}
