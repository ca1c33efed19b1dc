using CaptionService.Api.Batching;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CaptionService.Api.Hosting;

/// <summary>Healthy once the model has loaded, answered its warm-up caption, and the scheduler takes requests;
/// until then the description says why not (e.g. "downloading model 43% (...)").</summary>
public sealed class ModelReadyHealthCheck(ModelHost host, CaptionScheduler scheduler) : IHealthCheck
{
    public const string Tag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(host.Current is { } model && scheduler.IsRunning
            ? HealthCheckResult.Healthy($"{model.Id} on {model.DeviceName} ({model.DTypeName})")
            : HealthCheckResult.Unhealthy(scheduler.IsRunning || host.Current is null ? Reason(host.State) : "not taking requests (starting or shutting down)"));

    /// <summary>"downloading model 43% (...)", "loading model", "model failed: ...".</summary>
    private static string Reason(string state) => state.StartsWith("failed", StringComparison.Ordinal) || state == "starting" ? $"model {state}" : state;
}
