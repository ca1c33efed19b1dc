using System.Diagnostics;
using CaptionService.Api.Options;
using CaptionService.Hub;
using CaptionService.Model;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace CaptionService.Api.Hosting;

/// <summary>
/// Owns the one <see cref="Captioner"/> the service uses: fetches it first when the checkpoint is a Hugging Face
/// Hub model (<c>hf:OWNER/NAME[@REVISION]</c>, into huggingface_hub's cache, with progress in <see cref="State"/> and
/// the log), loads the checkpoint (or the built-in demo checkpoint) onto the configured device and dtype and runs a
/// warm-up caption. From then on only the <see cref="Batching.CaptionScheduler"/> uses the model.
/// </summary>
/// <param name="configuration">where the Hub's settings are read (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE,
/// HF_HUB_OFFLINE...: environment variables, or settings of the same name); null: the environment</param>
public sealed class ModelHost(IOptions<CaptionerOptions> options, ILogger<ModelHost> logger, IConfiguration? configuration = null) : IDisposable
{
    private volatile LoadedModel? loaded;
    private volatile string state = "starting";

    /// <summary>The model, once it has loaded and answered its warm-up caption; null before.</summary>
    public LoadedModel? Current => loaded;

    public bool IsReady => loaded is not null;

    /// <summary>What the host is doing, for the readiness check and 503 answers: "starting", "fetching hf:... from the Hub",
    /// "downloading model 43% (...)", "loading model", "warming up", "ready" or "failed: ...".</summary>
    public string State => state;

    /// <summary>Fetches (for a Hub model), loads and warms up the model. Called once, by <see cref="ModelLoader"/>.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        try
        {
            var placement = Placement.Resolve(o.Device, o.DType, o.MixedPrecision);
            if (o.Threads > 0) TorchRuntime.Threads = o.Threads;
            var fetch = Stopwatch.StartNew();
            var (checkpoint, id, hub, converted) = o.UsesHub
                ? await FetchAsync(o.Checkpoint!.Trim(), cancellationToken)
                : (o.CheckpointDirectory, Path.GetFileName(Path.TrimEndingDirectorySeparator(o.CheckpointDirectory)), null, null);
            fetch.Stop();
            if (o.UsesBuiltInModel)
                logger.LogInformation("No checkpoint configured (Captioner:Checkpoint): using the built-in demo checkpoint {Checkpoint}. {Notice}",
                    checkpoint, ModelNotice.Demo);

            state = "loading model";
            var load = Stopwatch.StartNew();
            logger.LogInformation("Loading checkpoint {Checkpoint} onto {Device} as {DType} ({DTypeReason}; {Threads} CPU threads; MKL Intel path {MklIntelPath}; malloc arenas {MallocArenas})",
                checkpoint, placement.DeviceName, placement.DTypeName, placement.DTypeReason, TorchRuntime.Threads, MklIntelPath.Status, TorchRuntime.MallocArenas);
            var pipeline = placement.Load(checkpoint, o.ToImageLimits(), converted);
            if (o.CpuKernels) pipeline.Model.UseCpuKernels();
            logger.LogInformation("CPU kernels for decoding: {CpuKernels}", pipeline.Model.KernelStatus);
            load.Stop();
            if (cancellationToken.IsCancellationRequested)
            {
                pipeline.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
            }

            state = "warming up";
            var candidate = new LoadedModel(id, checkpoint, o.UsesBuiltInModel, pipeline, placement,
                pipeline.Model.CountParameters(), load.Elapsed, TimeSpan.Zero)
            { Hub = hub, FetchTime = hub is null ? null : fetch.Elapsed };

            var warmup = Stopwatch.StartNew();
            var outcome = Caption(candidate, WarmupImage(pipeline.Config.ImageSize), pipeline.Config.Decoding);
            warmup.Stop();

            loaded = candidate with { WarmupTime = warmup.Elapsed };
            state = "ready";
            logger.LogInformation(
                "Model ready: {Id} ({Checkpoint}) on {Device} as {DType}, {Parameters:N0} parameters; loaded in {LoadMs:F0} ms, "
                + "warm-up caption in {WarmupMs:F0} ms: \"{Caption}\"",
                id, checkpoint, loaded.DeviceName, loaded.DTypeName, loaded.Parameters.Total,
                load.Elapsed.TotalMilliseconds, warmup.Elapsed.TotalMilliseconds, outcome.Text);
        }
        catch (Exception e)
        {
            state = "failed: " + e.Message;
            throw;
        }
    }

    /// <summary>The Hub model's files in the cache (downloaded when missing): its folder, OWNER/NAME and commit.</summary>
    private async Task<(string Folder, string Id, HubOrigin? Hub, string? Converted)> FetchAsync(string reference, CancellationToken cancellationToken)
    {
        var settings = HubSettings.From(name => configuration is null ? Environment.GetEnvironmentVariable(name) : configuration[name]);
        state = $"fetching {reference} from the Hub";
        logger.LogInformation("Fetching {Reference} from {Endpoint} into {Cache}{Offline}{Token}", reference, settings.Endpoint,
            settings.CacheDirectory, settings.Offline ? " (HF_HUB_OFFLINE: the cache only)" : "",
            settings.Token is null ? "" : $" with the token from {settings.TokenSource}");
        using var source = new ModelSource(settings, warn: message => logger.LogWarning("{Warning}", message));
        var resolved = await source.ResolveAsync(reference, ModelPurpose.Captioner, new DownloadLog(this, logger), cancellationToken);
        logger.LogInformation("{Reference} is {Repo} at commit {Commit}, in {Folder}", reference, resolved.Id, resolved.Hub!.Commit, resolved.Directory);
        return (resolved.Directory, resolved.Id, resolved.Hub, resolved.ConvertedWeights);
    }

    /// <summary>Download progress into <see cref="State"/> (every report) and the log (each file, every 10% or 10 s).</summary>
    private sealed class DownloadLog(ModelHost host, ILogger logger) : IProgress<HubProgress>
    {
        private readonly Stopwatch sinceLog = new();
        private (string File, int Tenth) logged;

        public void Report(HubProgress p)
        {
            host.state = $"downloading model {p}";
            var now = (p.File, (int)(p.Fraction * 10));
            if (now == logged && sinceLog.IsRunning && sinceLog.Elapsed < TimeSpan.FromSeconds(10)) return;
            logged = now;
            sinceLog.Restart();
            logger.LogInformation("Downloading {Repo}: {File}, {Progress}", p.Repo, p.File, p.ToString());
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
        loaded?.Pipeline.Dispose();
    }
}
