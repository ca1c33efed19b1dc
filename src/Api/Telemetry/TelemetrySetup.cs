using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CaptionService.Api.Telemetry;

/// <summary>
/// OpenTelemetry: traces of the HTTP requests and of the service's own spans, metrics of both and of
/// the .NET runtime;
/// a Prometheus scrape endpoint at /metrics, and OTLP export when the standard
/// <c>OTEL_EXPORTER_OTLP_*</c> variables name an endpoint (<c>OTEL_SERVICE_NAME</c> names the service).
/// </summary>
public static class TelemetrySetup
{
    public const string ServiceName = "caption-service";

    /// <summary>.NET's own meter: the managed heap, garbage collections, thread pool, working set
    /// (<c>dotnet_gc_last_collection_heap_size_bytes</c> and the like), so that memory growth can be
    /// told apart as managed or native.</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <summary>Gauges of <see cref="RuntimeMeter"/> whose Prometheus names would end in _count, which
    /// Prometheus keeps for histograms and summaries (promtool objects); left out.</summary>
    private static readonly HashSet<string> RuntimeCounts = ["dotnet.assembly.count", "dotnet.process.cpu.count", "dotnet.timer.count"];

    public static IServiceCollection AddCaptionTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<CaptionMetrics>();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(configuration["OTEL_SERVICE_NAME"])) resource.AddService(ServiceName);
            })
            .WithTracing(tracing => tracing
                .AddSource(CaptionMetrics.Name)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsPlumbing(http.Request.Path)))
            .WithMetrics(metrics => metrics
                .AddMeter(CaptionMetrics.Name)
                .AddMeter(RuntimeMeter)
                .AddView(instrument => instrument.Meter.Name == RuntimeMeter && RuntimeCounts.Contains(instrument.Name) ? MetricStreamConfiguration.Drop : null)
                .AddAspNetCoreInstrumentation()
                .AddPrometheusExporter());
        if (!string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
            || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]))
            telemetry.UseOtlpExporter();
        return services;
    }

    /// <summary>The Prometheus scrape endpoint, /metrics (behind the API keys when they are set:
    /// Prometheus sends one with <c>authorization: {type: Bearer, credentials_file: ...}</c>).</summary>
    public static WebApplication MapMetrics(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(Endpoints.RequiresApiKey.Instance);
        return app;
    }

    /// <summary>Health probes and scrapes are not traced (they would drown the requests).</summary>
    private static bool IsPlumbing(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/swagger");
}
