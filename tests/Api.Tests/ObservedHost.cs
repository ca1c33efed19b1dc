using System.Diagnostics;
using CaptionService.Api.Batching;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace CaptionService.Api.Tests;

/// <summary>A service of its own (CPU, the given Captioner settings) whose traces and metrics the
/// test reads through OpenTelemetry's in-memory exporters.</summary>
public sealed class ObservedHost : IAsyncDisposable
{
    private readonly List<MetricSnapshot> metrics = [];
    private readonly List<Activity> spans = [];

    public ObservedHost(params (string Key, string? Value)[] settings)
    {
        var all = settings.Prepend(("Device", "cpu")).ToDictionary(p => "Captioner:" + p.Item1, p => p.Item2);
        Factory = new ApiFactory(all, services: services =>
        {
            services.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(metrics));
            services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans));
        });
    }

    public ApiFactory Factory { get; }

    public CaptionScheduler Scheduler => Factory.Services.GetRequiredService<CaptionScheduler>();

    public Task<HttpClient> ReadyClientAsync() => Factory.ReadyClientAsync();

    /// <summary>The points of one metric as exported now (after a flush).</summary>
    public IReadOnlyList<MetricPoint> Points(string name)
    {
        lock (metrics) metrics.Clear();
        Factory.Services.GetRequiredService<MeterProvider>().ForceFlush();
        lock (metrics) return metrics.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).ToList();
    }

    /// <summary>The value of a counter for the points whose tag <paramref name="tag"/> is <paramref name="value"/>.</summary>
    public long Count(string name, string tag, string value) => Points(name)
        .Where(p => Tags(p).TryGetValue(tag, out var v) && Equals(v, value))
        .Sum(p => p.GetSumLong());

    public static Dictionary<string, object?> Tags(MetricPoint point)
    {
        var tags = new Dictionary<string, object?>();
        foreach (var tag in point.Tags) tags[tag.Key] = tag.Value;
        return tags;
    }

    /// <summary>Every span finished so far.</summary>
    public IReadOnlyList<Activity> Spans()
    {
        Factory.Services.GetRequiredService<TracerProvider>().ForceFlush();
        lock (spans) return spans.ToList();
    }

    /// <summary>Requests counted so far, by outcome ("ok=3, timeout=1"), for failure messages.</summary>
    public string Outcomes() => string.Join(", ", Points("captioner.requests").Select(p => $"{Tags(p)["outcome"]}={p.GetSumLong()}"));

    public async Task WaitUntil(Func<bool> condition, string what, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Waited {seconds} s for {what}; requests so far: {Outcomes()}; queue {Scheduler.QueueDepth}, running {Scheduler.ActiveSequences}.");
            await Task.Delay(5);
        }
    }

    public ValueTask DisposeAsync() => Factory.DisposeAsync();
}
