using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CaptionService.Training.Training;

/// <summary>One row of the results table: token-weighted mean losses and their perplexities, and what the
/// greedy captions of some validation images said (when <see cref="TrainOptions.ValCaptions"/> is on).</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double ValLoss, double Seconds, double DataWaitFraction, long TrainableParameters,
    CaptionCheck? Check = null)
{
    public double TrainPerplexity => Math.Exp(TrainLoss);
    public double ValPerplexity => Math.Exp(ValLoss);
}

/// <summary>The per-epoch results, written as CSV and JSON and drawn as PNGs after every epoch.</summary>
public static class MetricsLog
{
    /// <summary>Per-attribute error columns (synthetic scenes): name and how to read it from a check.</summary>
    private static readonly (string Name, Func<Evaluation.SceneErrors, int> Count)[] Attributes =
    [
        ("colour", e => e.Colour), ("shape", e => e.Shape), ("size", e => e.Size), ("position", e => e.Position),
        ("count", e => e.WrongCount), ("not_in_grammar", e => e.Unparsed),
    ];

    public static void Write(string dir, IReadOnlyList<EpochMetrics> rows)
    {
        string Number(double? v) => v is double d && !double.IsNaN(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "";
        var csv = new StringBuilder("epoch,train_loss,train_perplexity,val_loss,val_perplexity,seconds,data_wait_fraction,trainable_parameters,val_captions,val_exact_match"
            + string.Concat(Attributes.Select(a => $",val_{a.Name}_errors")) + "\n");
        foreach (var r in rows)
        {
            var scene = r.Check?.Scene;
            csv.AppendLine(string.Join(",", new[]
                {
                    r.Epoch.ToString(CultureInfo.InvariantCulture), Number(r.TrainLoss), Number(r.TrainPerplexity), Number(r.ValLoss),
                    Number(r.ValPerplexity), Number(r.Seconds), Number(r.DataWaitFraction), r.TrainableParameters.ToString(CultureInfo.InvariantCulture),
                    r.Check?.Images.ToString(CultureInfo.InvariantCulture) ?? "", Number(r.Check?.ExactMatch),
                }.Concat(Attributes.Select(a => Number(scene is null ? null : scene.Rate(a.Count(scene)))))));
        }
        File.WriteAllText(Path.Combine(dir, "metrics.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(dir, "metrics.json"), JsonSerializer.Serialize(rows.Select(r => new
        {
            epoch = r.Epoch,
            train_loss = r.TrainLoss,
            train_perplexity = r.TrainPerplexity,
            val_loss = r.ValLoss,
            val_perplexity = r.ValPerplexity,
            seconds = r.Seconds,
            data_wait_fraction = r.DataWaitFraction,
            trainable_parameters = r.TrainableParameters,
            val_captions = r.Check?.Images,
            val_exact_match = r.Check?.ExactMatch,
            val_scene_errors = r.Check?.Scene is { } s ? Attributes.ToDictionary(a => a.Name, a => s.Rate(a.Count(s))) : null,
        }), new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        PlotLoss(Path.Combine(dir, "curves.png"), rows);
        if (rows.Any(r => r.Check?.Scene is not null)) PlotAttributes(Path.Combine(dir, "attribute-errors.png"), rows);
    }

    /// <summary>Loss on the left axis; on the right the exact-match rate of the greedy captions when it was
    /// measured, else the validation perplexity.</summary>
    private static void PlotLoss(string path, IReadOnlyList<EpochMetrics> rows)
    {
        var plot = new ScottPlot.Plot();
        double[] epochs = rows.Select(r => (double)r.Epoch + 1).ToArray();
        var train = plot.Add.Scatter(epochs, rows.Select(r => r.TrainLoss).ToArray());
        train.LegendText = "train loss";
        var val = plot.Add.Scatter(epochs, rows.Select(r => r.ValLoss).ToArray());
        val.LegendText = "val loss";
        var checkedRows = rows.Where(r => r.Check is not null).ToList();
        ScottPlot.Plottables.Scatter right;
        if (checkedRows.Count > 0)
        {
            right = plot.Add.Scatter(checkedRows.Select(r => (double)r.Epoch + 1).ToArray(), checkedRows.Select(r => 100 * r.Check!.ExactMatch).ToArray());
            right.LegendText = "val captions exactly right (%)";
            plot.Axes.Right.Label.Text = "exactly right (%)";
        }
        else
        {
            right = plot.Add.Scatter(epochs, rows.Select(r => r.ValPerplexity).ToArray());
            right.LegendText = "val perplexity";
            plot.Axes.Right.Label.Text = "perplexity";
        }
        right.LinePattern = ScottPlot.LinePattern.Dashed;
        right.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title("Training curves");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }

    /// <summary>Per-attribute error rates of the greedy validation captions, by epoch (synthetic scenes).</summary>
    private static void PlotAttributes(string path, IReadOnlyList<EpochMetrics> rows)
    {
        var plot = new ScottPlot.Plot();
        var measured = rows.Where(r => r.Check?.Scene is not null).ToList();
        double[] epochs = measured.Select(r => (double)r.Epoch + 1).ToArray();
        foreach (var (name, count) in Attributes)
        {
            var line = plot.Add.Scatter(epochs, measured.Select(r => 100 * r.Check!.Scene!.Rate(count(r.Check.Scene))).ToArray());
            line.LegendText = name.Replace('_', ' ');
        }
        plot.Axes.Left.Label.Text = "val images with the error (%)";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title("Errors by attribute (greedy captions of validation images)");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }

    public static string Table(IReadOnlyList<EpochMetrics> rows)
    {
        bool check = rows.Any(r => r.Check is not null);
        var text = new StringBuilder($"{"epoch",5} {"train_loss",10} {"train_ppl",10} {"val_loss",10} {"val_ppl",10} {"seconds",8}{(check ? $" {"exact",7}" : "")}\n");
        foreach (var r in rows)
            text.AppendLine(FormattableString.Invariant($"{r.Epoch + 1,5} {r.TrainLoss,10:F4} {r.TrainPerplexity,10:F3} {r.ValLoss,10:F4} {r.ValPerplexity,10:F3} {r.Seconds,8:F1}")
                + (check ? FormattableString.Invariant($" {(r.Check is null ? "" : r.Check.ExactMatch.ToString("P1", CultureInfo.InvariantCulture)),7}") : ""));
        return text.ToString();
    }
}
