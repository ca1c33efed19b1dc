using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CaptionService.Training.Training;

/// <summary>One row of the results table: token-weighted mean losses and their perplexities.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double ValLoss, double Seconds, double DataWaitFraction, long TrainableParameters)
{
    public double TrainPerplexity => Math.Exp(TrainLoss);
    public double ValPerplexity => Math.Exp(ValLoss);
}

/// <summary>The per-epoch results, written as CSV and JSON and drawn as a PNG after every epoch.</summary>
public static class MetricsLog
{
    public static void Write(string dir, IReadOnlyList<EpochMetrics> rows)
    {
        var csv = new StringBuilder("epoch,train_loss,train_perplexity,val_loss,val_perplexity,seconds,data_wait_fraction,trainable_parameters\n");
        foreach (var r in rows)
            csv.AppendLine(string.Join(",", new object[] { r.Epoch, r.TrainLoss, r.TrainPerplexity, r.ValLoss, r.ValPerplexity, r.Seconds, r.DataWaitFraction, r.TrainableParameters }
                .Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
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
        }), new JsonSerializerOptions { WriteIndented = true }));
        Plot(Path.Combine(dir, "curves.png"), rows);
    }

    /// <summary>Loss on the left axis, perplexity (log scale would hide the start) on the right.</summary>
    private static void Plot(string path, IReadOnlyList<EpochMetrics> rows)
    {
        var plot = new ScottPlot.Plot();
        double[] epochs = rows.Select(r => (double)r.Epoch + 1).ToArray();
        var train = plot.Add.Scatter(epochs, rows.Select(r => r.TrainLoss).ToArray());
        train.LegendText = "train loss";
        var val = plot.Add.Scatter(epochs, rows.Select(r => r.ValLoss).ToArray());
        val.LegendText = "val loss";
        var ppl = plot.Add.Scatter(epochs, rows.Select(r => r.ValPerplexity).ToArray());
        ppl.LegendText = "val perplexity";
        ppl.LinePattern = ScottPlot.LinePattern.Dashed;
        ppl.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Left.Label.Text = "loss";
        plot.Axes.Right.Label.Text = "perplexity";
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Title("Training curves");
        plot.ShowLegend();
        plot.SavePng(path, 800, 500);
    }

    public static string Table(IReadOnlyList<EpochMetrics> rows)
    {
        var text = new StringBuilder($"{"epoch",5} {"train_loss",10} {"train_ppl",10} {"val_loss",10} {"val_ppl",10} {"seconds",8}\n");
        foreach (var r in rows)
            text.AppendLine(FormattableString.Invariant($"{r.Epoch + 1,5} {r.TrainLoss,10:F4} {r.TrainPerplexity,10:F3} {r.ValLoss,10:F4} {r.ValPerplexity,10:F3} {r.Seconds,8:F1}"));
        return text.ToString();
    }
}
