using System.Diagnostics;
using CaptionService.Api.Options;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Generation;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace CaptionService.Api.Hosting;

/// <summary>
/// Owns the one <see cref="Captioner"/> the service uses: loads the configured checkpoint (or the
/// built-in demo checkpoint) onto the configured device and dtype and runs a warm-up caption. From
/// then on only the <see cref="Batching.CaptionScheduler"/> uses the model.
/// </summary>
public sealed class ModelHost(IOptions<CaptionerOptions> options, ILogger<ModelHost> logger) : IDisposable
{
    private volatile LoadedModel? _loaded;
    private volatile string _state = "loading";

    /// <summary>The model, once it has loaded and answered its warm-up caption; null before.</summary>
    public LoadedModel? Current => _loaded;

    public bool IsReady => _loaded is not null;

    /// <summary>"loading", "ready" or "failed: ..." (for the readiness check and 503 answers).</summary>
    public string State => _state;

    /// <summary>Loads the model and runs the warm-up caption. Called once, by <see cref="ModelLoader"/>.</summary>
    public void Load(CancellationToken cancellationToken)
    {
        var o = options.Value;
        try
        {
            var device = TorchRuntime.ResolveDevice(o.Device);
            if (o.Threads > 0) torch.set_num_threads(o.Threads);
            var (precision, dtypeReason) = TorchRuntime.ResolvePrecision(o.DType, device);
            var dtype = TorchRuntime.ScalarTypeOf(precision);
            var load = Stopwatch.StartNew();
            var checkpoint = o.CheckpointDirectory;
            var id = Path.GetFileName(Path.TrimEndingDirectorySeparator(checkpoint));
            if (o.UsesBuiltInModel)
                logger.LogInformation("No checkpoint configured (Captioner:Checkpoint): using the built-in demo checkpoint {Checkpoint} "
                    + "(the tiny model trained on synthetic shapes; it only knows coloured circles, squares and triangles)", checkpoint);
            logger.LogInformation("Loading checkpoint {Checkpoint} onto {Device} as {DType} ({DTypeReason}; {Threads} CPU threads; MKL Intel path {MklIntelPath})",
                checkpoint, device, TorchRuntime.Name(dtype), dtypeReason, torch.get_num_threads(), MklIntelPath.Status);
            bool mixed = o.MixedPrecision && dtype != torch.ScalarType.Float32;
            var model = Checkpoint.Load(checkpoint, device).ToPrecision(dtype, mixed);
            model.eval();
            load.Stop();
            cancellationToken.ThrowIfCancellationRequested();

            var pipeline = new CaptionPipeline(model, o.ToImageLimits());
            var candidate = new LoadedModel(id, checkpoint, o.UsesBuiltInModel, pipeline, model.Device, model.DType, dtypeReason, mixed,
                model.CountParameters(), load.Elapsed, TimeSpan.Zero);

            var warmup = Stopwatch.StartNew();
            var outcome = Caption(candidate, WarmupImage(model.Config.ImageSize), model.Config.Decoding);
            warmup.Stop();

            _loaded = candidate with { WarmupTime = warmup.Elapsed };
            _state = "ready";
            logger.LogInformation(
                "Model ready: {Id} ({Checkpoint}) on {Device} as {DType}, {Parameters:N0} parameters; loaded in {LoadMs:F0} ms, "
                + "warm-up caption in {WarmupMs:F0} ms: \"{Caption}\"",
                id, checkpoint, _loaded.DeviceName, _loaded.DTypeName, _loaded.Parameters.Total,
                load.Elapsed.TotalMilliseconds, warmup.Elapsed.TotalMilliseconds, outcome.Text);
        }
        catch (Exception e)
        {
            _state = "failed: " + e.Message;
            throw;
        }
    }

    private static CaptionOutcome Caption(LoadedModel model, byte[] image, DecodingOptions decoding)
    {
        var clock = Stopwatch.StartNew();
        var caption = model.Pipeline.Caption([image], decoding)[0];
        return new CaptionOutcome(caption.Text, caption.Tokens.Count, caption.Finished, clock.Elapsed);
    }

    /// <summary>A small PNG (a colour gradient) that goes through the same decode/resize path as an upload.</summary>
    internal static byte[] WarmupImage(int size)
    {
        size = Math.Max(size, 8);
        using var image = new Image<Rgb24>(size, size);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                    row[x] = new Rgb24((byte)(255 * x / size), (byte)(255 * y / size), 128);
            }
        });
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return png.ToArray();
    }

    public void Dispose()
    {
        _loaded?.Pipeline.Model.Dispose();
    }
}
