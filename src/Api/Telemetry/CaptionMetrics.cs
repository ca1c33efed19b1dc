using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CaptionService.Api.Telemetry;

/// <summary>
/// The service's own traces and metrics. Spans: <c>preprocess</c> (on the request), then
/// <c>queue</c>, <c>encode</c> and <c>decode</c> (in the scheduler, children of the request's span).
/// Metrics (Prometheus names in brackets): captioner.requests by outcome [captioner_requests_total],
/// captioner.batch.size per decode step [captioner_batch_size], captioner.queue.depth
/// [captioner_queue_depth], captioner.caption.duration [captioner_caption_duration_seconds],
/// captioner.tokens.generated [captioner_tokens_generated_total].
/// </summary>
public sealed class CaptionMetrics
{
    public const string Name = "CaptionService";

    public static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> requests;
    private readonly Histogram<int> batchSize;
    private readonly Histogram<double> captionDuration;
    private readonly Counter<long> tokens;

    public CaptionMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Name);
        requests = meter.CreateCounter<long>("captioner.requests", "{request}", "Caption requests answered, by outcome");
        batchSize = meter.CreateHistogram("captioner.batch.size", "{sequence}", "Sequences decoded together in one step",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128] });
        captionDuration = meter.CreateHistogram("captioner.caption.duration", "s", "Time from a request's arrival to its caption",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        tokens = meter.CreateCounter<long>("captioner.tokens.generated", "{token}", "Tokens generated");
        meter.CreateObservableGauge("captioner.queue.depth", () => QueueDepth(), "{request}", "Requests waiting for a place in the batch");
        meter.CreateObservableGauge("captioner.batch.active", () => ActiveSequences(), "{sequence}", "Sequences in the running batch");
        meter.CreateObservableGauge("captioner.tensors.live", () => LiveTensors(), "{tensor}", "Tensors held by the scheduler (0 when idle; growth is a leak)");
    }

    /// <summary>Read by the queue-depth gauge (set by the scheduler once it runs).</summary>
    public Func<int> QueueDepth { get; set; } = () => 0;

    public Func<int> ActiveSequences { get; set; } = () => 0;

    public Func<long> LiveTensors { get; set; } = () => 0;

    /// <summary>One answered request: ok, or what went wrong (bad-request, too-large, unsupported-format,
    /// queue-full, decode-busy, timeout, upload-timeout, cancelled, not-ready, unauthorized, auth-throttled,
    /// rate-limited, error).</summary>
    public void Request(string outcome) => requests.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Captioned(TimeSpan total, int tokenCount)
    {
        captionDuration.Record(total.TotalSeconds);
        tokens.Add(tokenCount);
    }

    public void Step(int sequences) => batchSize.Record(sequences);

    /// <summary>A finished child span of <paramref name="parent"/> from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public static void Span(string name, ActivityContext parent, DateTimeOffset start, DateTimeOffset end, params (string Key, object? Value)[] tags)
    {
        using var span = Source.StartActivity(name, ActivityKind.Internal, parent, startTime: start);
        if (span is null) return;
        foreach (var (key, value) in tags) span.SetTag(key, value);
        span.SetEndTime(end.UtcDateTime);
    }
}
