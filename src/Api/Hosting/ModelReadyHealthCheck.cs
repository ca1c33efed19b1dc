using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CaptionService.Api.Hosting;

/// <summary>Healthy once the model has loaded and answered its warm-up caption.</summary>
public sealed class ModelReadyHealthCheck(ModelHost host) : IHealthCheck
{
    public const string Tag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(host.Current is { } model
            ? HealthCheckResult.Healthy($"{model.Id} on {model.DeviceName} ({model.DTypeName})")
            : HealthCheckResult.Unhealthy($"model {host.State}"));
}
