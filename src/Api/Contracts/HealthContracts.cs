namespace CaptionService.Api.Contracts;

// What GET /health/live and GET /health/ready answer with.

/// <summary>The health report: Healthy or Unhealthy, and each check's state.</summary>
/// <param name="Status">Healthy, Degraded or Unhealthy.</param>
/// <param name="Checks">By name: <c>model</c> for readiness (none for liveness).</param>
public sealed record HealthResponse(string Status, IReadOnlyDictionary<string, HealthCheckResponse> Checks);

/// <param name="Description">What the check found: the model served when ready, else why not ("downloading model 43% (...)").</param>
/// <param name="Data">When ready: the model's name (as in every caption's <c>model.id</c>), device and dtype.</param>
public sealed record HealthCheckResponse(string Status, string? Description,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyDictionary<string, object>? Data = null);
