using System.Text.Json;
using System.Text.Json.Serialization;
using CaptionService.Api;
using CaptionService.Api.Endpoints;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Telemetry;
using CaptionService.Model;
using Microsoft.Extensions.Options;

// Wiring only: options, model hosting and the scheduler (Hosting/, Batching/), upload limits (Intake/),
// endpoints, problem details, API key and rate limit (Endpoints/), traces and metrics (Telemetry/).
TorchRuntime.PrepareProcess(); // before anything loads libtorch
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddModelHosting();
builder.Services.AddCaptionTelemetry(builder.Configuration);
builder.Services.AddClientRateLimit();
builder.Services.AddUploadLimits();
builder.Services.AddApiProblemDetails();
builder.Services.ConfigureHttpJsonOptions(json =>
{
    json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
});
builder.Services.AddApiDocs();

var app = builder.Build();

if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler(); // 500 as a problem without details; Development shows the developer page instead
app.UseStatusCodePages();      // empty 4xx/5xx answers (404, 405, 413 from the server...) become problem details
app.UseApiDocs();
app.UseRateLimiter();

// The page for people at / (wwwroot: plain HTML, CSS and JS, nothing fetched from elsewhere).
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapCaptionEndpoints();
app.MapModelEndpoints();
app.MapHealthEndpoints();
app.MapMetrics();

try
{
    app.Run();
}
catch (OptionsValidationException e)
{
    // Bad settings (Captioner:*): one line that names them, before the host's own report.
    // Rethrown: the process must fail, and a test host (WebApplicationFactory) must see the exception.
    app.Logger.LogCritical("Invalid configuration, not starting: {Errors}", string.Join("; ", e.Failures));
    throw;
}

/// <summary>Visible to the tests' WebApplicationFactory.</summary>
public partial class Program;
