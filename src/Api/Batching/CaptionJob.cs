using System.Diagnostics;
using CaptionService.Model;
using CaptionService.Model.Generation;

namespace CaptionService.Api.Batching;

/// <summary>What the scheduler made of one job: the tokens, and where its time went.</summary>
/// <param name="Queue">From submission to joining the batch.</param>
/// <param name="Encode">Encoding the images that joined the batch with it (one pass for all of them).</param>
/// <param name="Decode">From joining the batch to its last token.</param>
public sealed record ScheduledCaption(GeneratedSequence Sequence, TimeSpan Queue, TimeSpan Encode, TimeSpan Decode);

/// <summary>One image waiting for, or being decoded by, the <see cref="CaptionScheduler"/>.</summary>
public sealed class CaptionJob(float[] image, DecodingOptions options, CancellationToken cancellation)
{
    private readonly TaskCompletionSource<ScheduledCaption> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The preprocessed image, [3, S, S] flattened.</summary>
    public float[] Image { get; } = image;
    public DecodingOptions Options { get; } = options;

    /// <summary>Cancelled when the client goes away or the request times out: the job then leaves the queue or batch.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>The request's span, parent of the queue/encode/decode spans.</summary>
    public ActivityContext Parent { get; } = Activity.Current?.Context ?? default;

    public Task<ScheduledCaption> Completion => completion.Task;

    internal DecodingGroup? Group { get; set; }
    internal DateTimeOffset Submitted { get; set; }
    internal DateTimeOffset Admitted { get; set; }
    internal DateTimeOffset Encoded { get; set; }
    /// <summary>Sequences in the batch at its first step (itself included), for its decode span.</summary>
    internal int BatchRows { get; set; }

    internal void Succeed(DateTimeOffset now) => completion.TrySetResult(new ScheduledCaption(
        Group!.Result, Admitted - Submitted, Encoded - Admitted, now - Encoded));

    internal void Cancel() => completion.TrySetCanceled(Cancellation.IsCancellationRequested ? Cancellation : new CancellationToken(true));

    internal void Fail(Exception e) => completion.TrySetException(e);
}

/// <summary>The queue is full: answer 503 with Retry-After.</summary>
public sealed class QueueFullException(int capacity) : Exception($"The queue is full ({capacity} requests waiting); retry shortly.");

/// <summary>The service is shutting down and takes no new work.</summary>
public sealed class ShuttingDownException() : Exception("The service is shutting down and takes no new requests.");
