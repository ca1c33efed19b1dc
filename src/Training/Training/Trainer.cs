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
/// weights (weight decay only on layer weights, <see cref="OptimizerGroups"/>), OneCycle learning rate,
/// staged unfreezing, gradient accumulation and clipping, mixed precision, per-epoch validation (loss,
/// and optionally the greedy captions of some validation images), best and last checkpoints, exact resume.
/// The running loss stays on the device and is read every <see cref="TrainOptions.LogEvery"/> optimizer
/// steps and at the end of the epoch, so steps do not wait for the device in between (fp16's loss scaling
/// still checks its gradients every step).
/// Output folder: <c>last/</c> (checkpoint + training state), <c>best/</c> (lowest val loss),
/// <c>metrics.csv</c>, <c>metrics.json</c>, <c>curves.png</c> (and <c>attribute-errors.png</c> for synthetic scenes).
/// </summary>
public sealed class Trainer(Captioner model, Loader train, Loader val, TrainOptions options, string outDir, ITrainingReporter reporter,
    IReadOnlyList<CaptionedImage>? checkImages = null)
{
    public string LastDir => Path.Combine(outDir, "last");
    public string BestDir => Path.Combine(outDir, "best");

    private int StepsPerEpoch => (train.BatchesPerEpoch + options.Accumulation - 1) / options.Accumulation;

    /// <summary>Optimizer steps in the whole run: every epoch's, or <see cref="TrainOptions.MaxSteps"/> if fewer.</summary>
    public long TotalSteps => options.MaxSteps > 0 ? Math.Min(options.MaxSteps, (long)options.Epochs * StepsPerEpoch) : (long)options.Epochs * StepsPerEpoch;

    /// <param name="resume">a saved state (from <c>last/</c>) to continue exactly, or null for a new run</param>
    public TrainResult Run(TrainingState? resume = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(outDir);
        var state = resume ?? new TrainingState { Options = options };
        using var precision = new MixedPrecision(model, options.Precision);
        // Every parameter goes to the optimizer; frozen ones simply have no gradient and are skipped.
        using var optimizer = optim.AdamW(OptimizerGroups.For(model, options.MaxLearningRate, options.WeightDecay), lr: options.MaxLearningRate);
        var scheduler = optim.lr_scheduler.OneCycleLR(optimizer, options.MaxLearningRate, total_steps: (int)TotalSteps,
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
        for (int epoch = state.Epoch; epoch < options.Epochs && state.GlobalStep < TotalSteps; epoch++)
        {
            long now = Stages.Apply(epoch, options, model, precision.Work);
            if (now != trainable)
                reporter.Message($"epoch {epoch + 1}: training {Stages.Describe(epoch, options)}: {now:N0} trainable parameters");
            trainable = now;

            var watch = Stopwatch.StartNew();
            var resumed = epoch == state.Epoch ? state : state with { BatchInEpoch = 0, EpochLossSum = 0, EpochTokens = 0 };
            var (lossSum, tokens, done, globalStep) = TrainEpoch(epoch, resumed, precision, optimizer, scheduler, cancel);
            state = state with { GlobalStep = globalStep };
            if (done < train.BatchesPerEpoch && globalStep < TotalSteps)
            {
                SaveLast(state with { Epoch = epoch, BatchInEpoch = done, EpochLossSum = lossSum, EpochTokens = tokens }, optimizer);
                reporter.Message($"interrupted at epoch {epoch + 1}, batch {done}: saved {LastDir}; continue with --resume {outDir}");
                return new TrainResult(state.History, true, LastDir, BestDir);
            }

            double trainLoss = tokens > 0 ? lossSum / tokens : double.NaN;
            double valLoss = Evaluate(precision.Work);
            // The fp32 master captions: a bf16 working copy would change some greedy captions.
            var check = options.ValCaptions > 0 && checkImages is { Count: > 0 }
                ? CaptionCheck.Run(model, checkImages.Take(options.ValCaptions).ToList(), options.BatchSize)
                : null;
            var row = new EpochMetrics(epoch, trainLoss, valLoss, watch.Elapsed.TotalSeconds,
                watch.Elapsed.TotalSeconds > 0 ? train.Waited.TotalSeconds / watch.Elapsed.TotalSeconds : 0, trainable, check);
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
                $"epoch {epoch + 1}: train loss {trainLoss:F4} (ppl {row.TrainPerplexity:F2}), val loss {valLoss:F4} (ppl {row.ValPerplexity:F2}){(best ? ", best so far" : "")}")
                + (check is null ? "" : FormattableString.Invariant($"; {check.ExactMatch:P1} of {check.Images} val captions exactly right")
                    + (check.Scene is { } scene ? FormattableString.Invariant(
                        $" (errors: colour {scene.Rate(scene.Colour):P1}, shape {scene.Rate(scene.Shape):P1}, size {scene.Rate(scene.Size):P1}, position {scene.Rate(scene.Position):P1}, number of shapes {scene.Rate(scene.WrongCount):P1}, not in the grammar {scene.Rate(scene.Unparsed):P1})") : ""))
                + FormattableString.Invariant($"; {row.Seconds:F0} s, {row.DataWaitFraction:P1} of it waiting for data"));
        }
        if (state.GlobalStep >= TotalSteps && options.MaxSteps > 0 && TotalSteps < (long)options.Epochs * StepsPerEpoch)
            reporter.Message($"stopped after {TotalSteps} optimizer steps (--max-steps)");
        reporter.Message(MetricsLog.Table(state.History));
        return new TrainResult(state.History, false, LastDir, BestDir);
    }

    /// <param name="from">where the epoch starts: batches already done and their loss (non-zero after a resume)</param>
    /// <returns>sum of loss x tokens and tokens over the epoch so far, batches done (fewer than the
    /// epoch's when cancelled or at the step limit), global step</returns>
    private (double LossSum, long Tokens, int Done, long GlobalStep) TrainEpoch(int epoch, TrainingState from, MixedPrecision precision,
        OptimizerHelper optimizer, optim.lr_scheduler.LRScheduler scheduler, CancellationToken cancel)
    {
        var work = precision.Work;
        work.train();
        long tokenSum = from.EpochTokens, globalStep = from.GlobalStep;
        int skip = from.BatchInEpoch, done = skip, pending = 0, stepsSinceRead = 0;
        // Sum of loss x tokens over the epoch so far, kept on the device; read back only to report it.
        var lossSum = tensor(from.EpochLossSum, ScalarType.Float64, work.Device);
        double Read() => lossSum.item<double>();
        var watch = Stopwatch.StartNew();
        long tokensSinceStart = 0;
        try
        {
            reporter.Epoch(epoch, options.Epochs, train.BatchesPerEpoch, skip, step =>
            {
                foreach (var batch in train.Epoch(epoch, skip))
                {
                    using (batch)
                    using (var scope = NewDisposeScope())
                    {
                        var loss = Loss(work, batch);
                        precision.ScaleLoss(loss.DividedBy(options.Accumulation)).backward();
                        var sum = lossSum.Plus(loss.detach().to(ScalarType.Float64).Times(batch.Tokens));
                        lossSum.Dispose();
                        lossSum = sum.DetachFromDisposeScope();
                        tokenSum += batch.Tokens;
                        tokensSinceStart += batch.Tokens;
                    }
                    done++;
                    if (++pending == options.Accumulation || done == train.BatchesPerEpoch)
                    {
                        if (precision.PrepareGradients())
                        {
                            if (options.ClipNorm > 0) GradientClipping.ClipNorm(Stages.Trainable(model), options.ClipNorm);
                            // TorchSharp's AdamW makes throwaway Scalars; see NoGcRegion.
                            NoGcRegion.Run(() => optimizer.step());
                            precision.AfterStep();
                        }
                        precision.ZeroGrad();
                        scheduler.step();
                        globalStep++;
                        pending = 0;
                        bool last = done == train.BatchesPerEpoch || globalStep >= TotalSteps;
                        if (++stepsSinceRead >= options.LogEvery || last || cancel.IsCancellationRequested)
                        {
                            step(done, tokenSum > 0 ? Read() / tokenSum : 0, scheduler.get_last_lr().First(), tokensSinceStart / watch.Elapsed.TotalSeconds);
                            stepsSinceRead = 0;
                        }
                        // Stop only on an optimizer-step boundary, so a resume starts with clean gradients.
                        if (cancel.IsCancellationRequested || globalStep >= TotalSteps) break;
                    }
                }
            });
            return (Read(), tokenSum, done, globalStep);
        }
        finally
        {
            lossSum.Dispose();
        }
    }

    /// <summary>Token-weighted mean validation loss, dropout off; read from the device once.</summary>
    private double Evaluate(Captioner work)
    {
        work.eval();
        using var noGrad = no_grad();
        var sum = zeros(1, ScalarType.Float64, work.Device);
        long tokens = 0;
        foreach (var batch in val.Epoch(0))
        {
            using (batch)
            using (var scope = NewDisposeScope())
            {
                var next = sum.Plus(Loss(work, batch).to(ScalarType.Float64).Times(batch.Tokens));
                sum.Dispose();
                sum = next.DetachFromDisposeScope();
                tokens += batch.Tokens;
            }
        }
        using (sum)
            return tokens > 0 ? sum.item<double>() / tokens : double.NaN;
    }
    /// <summary>Mean cross-entropy over the caption tokens (padding labels are ignored), in fp32.</summary>
    private static Tensor Loss(Captioner work, Batch batch) =>
        work.Loss(batch.Pixels.to(work.DType, work.Device), batch.Input.to(work.Device), batch.Labels.to(work.Device), Collate.IgnoreIndex,
            positions: batch.Positions.to(work.Device), imageOfCaption: batch.ImageOfCaption?.to(work.Device));

    private void SaveLast(TrainingState state, OptimizerHelper optimizer)
    {
        Checkpoint.Save(model, LastDir);
        optimizer.save_state_dict(Path.Combine(LastDir, "optimizer.bin"));
        using var rng = torch.get_rng_state();
        rng.save(Path.Combine(LastDir, "rng.bin"));
        state.Save(LastDir);
    }
}
