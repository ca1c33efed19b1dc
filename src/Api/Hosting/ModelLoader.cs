namespace CaptionService.Api.Hosting;

/// <summary>
/// Loads the model in the background once the host has started, so that the server listens (and
/// /health/live answers) while a large checkpoint loads; /health/ready turns 200 when it is done.
/// A model that cannot be loaded stops the service with exit code 1.
/// </summary>
public sealed class ModelLoader(ModelHost host, IHostApplicationLifetime lifetime, ILogger<ModelLoader> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Run(() => host.Load(stoppingToken), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogCritical("The model could not be loaded: {Message}", e.Message);
            logger.LogDebug(e, "Model load failure");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }
}
