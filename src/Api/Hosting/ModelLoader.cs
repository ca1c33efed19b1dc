using CaptionService.Api.Batching;

namespace CaptionService.Api.Hosting;

/// <summary>
/// Fetches and loads the model in the background once the host has started, so that the server listens (and
/// /health/live answers, /health/ready says how the download goes) while a model downloads or a large
/// checkpoint loads, then hands it to the
/// <see cref="CaptionScheduler"/>; /health/ready turns 200 when that is done. A model that cannot be
/// loaded stops the service with exit code 1. On shutdown the scheduler drains: no new requests,
/// the queued and running ones are finished (within the host's shutdown timeout).
/// </summary>
public sealed class ModelLoader(ModelHost host, CaptionScheduler scheduler, IHostApplicationLifetime lifetime, ILogger<ModelLoader> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Run(() => host.LoadAsync(stoppingToken), stoppingToken);
            scheduler.Start(host.Current!);
            logger.LogInformation("Scheduler running: batches of up to {MaxBatch} sequences, queue of {Queue}, at most {MaxTokens} tokens per caption",
                scheduler.Options.MaxBatchSize, scheduler.Options.QueueCapacity, scheduler.MaxTokens);
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped while loading (the server could not start, or a shutdown): not a load failure.
            logger.LogDebug(e, "Model load abandoned: the service is stopping");
        }
        catch (Exception e)
        {
            logger.LogCritical("The model could not be loaded: {Message}", e.Message);
            logger.LogDebug(e, "Model load failure");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("Draining: {Queued} requests queued", scheduler.QueueDepth);
        await scheduler.StopAsync(cancellationToken);
        await base.StopAsync(cancellationToken);
    }
}
