using System.Text.Json;
using System.Text.Json.Serialization;
using CaptionService.Api;
using CaptionService.Api.Endpoints;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model;

// Wiring only: options, model hosting and the scheduler (Hosting/, Batching/), upload limits and the
// decode pool (Intake/), endpoints, problem details, API keys and rate limit (Endpoints/), traces and
// metrics (Telemetry/).
TorchRuntime.PrepareProcess(); // before anything loads libtorch
var builder = WebApplication.CreateBuilder(args);

// Every setting is checked before anything starts: a bad one ends the process with exit code 1 and
// one line that names it, its value and what is allowed.
if (SettingsCheck.Problems(builder.Configuration) is { Count: > 0 } problems)
{
    foreach (var problem in problems) Console.Error.WriteLine("Invalid setting " + problem);
    return 1;
}

// A server that cannot start says so in one line (below), not with the host's stack trace too.
builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

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

app.UseTrustedProxies();       // first: the client's address, from X-Forwarded-For only through known proxies
if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler(); // 500 as a problem without details; Development shows the developer page instead
app.UseStatusCodePages();      // empty 4xx/5xx answers (404, 405, 413 from the server...) become problem details
app.UseApiDocs();
// Before a caption request's body is read, in this order: its API key, its client's rate limit, then
// readiness, queue room and declared size.
app.UseMiddleware<AccessControl>();
app.UseRateLimiter();
app.UseMiddleware<IntakeGate>();

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
    return Environment.ExitCode;
}
catch (Exception e)
{
    // The server could not start (the address is taken, say): one line, no stack trace.
    Console.Error.WriteLine($"Could not start: {e.Message}");
    return 1;
}

/// <summary>Visible to the tests' WebApplicationFactory.</summary>
public partial class Program;
