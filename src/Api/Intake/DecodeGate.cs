using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Intake;

/// <summary>
/// The bounded pool that image decoding runs in. A decode holds a lease for the memory its image
/// takes (the upload's bytes plus what decoding it needs, <see cref="Model.Imaging.DecodeCost"/>)
/// and a place among <see cref="CaptionerOptions.DecodeConcurrency"/> (one per core but one: the
/// model's own steps keep a core, so a burst of large uploads does not slow every caption). The
/// leases never hold more than <see cref="CaptionerOptions.DecodeMemoryMegabytes"/> together.
/// A request that cannot have its lease waits up to <see cref="CaptionerOptions.DecodeWaitMs"/>, then
/// gets 503. Waiting requests are served smallest first, and one extra place is kept for small
/// images (at most <see cref="SmallPixels"/>), so an ordinary photo does not queue behind a burst of
/// huge ones. When decoding goes idle after large images, the memory they took is handed back to
/// the system (<see cref="NativeHeap.Trim"/>). Thread-safe.
/// </summary>
public sealed class DecodeGate
{
    /// <summary>Images up to this many pixels (2 K x 2 K) may use the place kept for small images.</summary>
    public const long SmallPixels = 4_000_000;

    private readonly object sync = new();
    // Small images first, then the rest; each smallest first, in order of arrival among equals.
    private readonly PriorityQueue<Waiter, (long Bytes, long Order)> small = new(), large = new();
    private long order;
    private int running, peakRunning;
    private long reserved, peakReserved;
    private bool smallPlaceTaken;

    public DecodeGate(IOptions<CaptionerOptions> options)
    {
        var o = options.Value;
        Places = o.DecodeConcurrency > 0 ? o.DecodeConcurrency : Math.Max(1, Environment.ProcessorCount - 1);
        BudgetBytes = (long)o.DecodeMemoryMegabytes << 20;
        Wait = TimeSpan.FromMilliseconds(o.DecodeWaitMs);
    }

    /// <summary>Decodes that may run at once (one more for a small image).</summary>
    public int Places { get; }

    public long BudgetBytes { get; }

    public TimeSpan Wait { get; }

    /// <summary>Decodes running now.</summary>
    public int Running { get { lock (sync) return running; } }

    /// <summary>Bytes held by the running decodes' leases now.</summary>
    public long ReservedBytes { get { lock (sync) return reserved; } }

    /// <summary>The most decodes that ever ran at once, and the most bytes ever reserved at once.</summary>
    public (int Running, long Bytes) Peak { get { lock (sync) return (peakRunning, peakReserved); } }

    /// <summary>A lease for <paramref name="bytes"/> and a place to decode, or null when none came
    /// within <see cref="Wait"/> (answer 503). Dispose the lease when the decoded image is gone.</summary>
    /// <param name="pixels">the image's pixels (at most <see cref="SmallPixels"/>: it may take the place kept for small images)</param>
    public async Task<IDisposable?> EnterAsync(long bytes, long pixels, CancellationToken cancellationToken)
    {
        if (bytes > BudgetBytes)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"a decode of {bytes:N0} bytes can never fit the budget of {BudgetBytes:N0}");
        var waiter = new Waiter(bytes, pixels <= SmallPixels);
        lock (sync)
        {
            (waiter.Small ? small : large).Enqueue(waiter, (bytes, order++));
            Pump();
        }
        if (!waiter.Done.Task.IsCompleted)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Wait);
            using var registration = timeout.Token.Register(() => { lock (sync) waiter.Done.TrySetResult(false); });
            await waiter.Done.Task;
        }
        if (waiter.Done.Task.Result) return new Lease(this, waiter);
        cancellationToken.ThrowIfCancellationRequested();
        return null;
    }

    /// <summary>Grants leases, in order, while they fit. Called under the lock.</summary>
    private void Pump()
    {
        for (bool granted = true; granted;)
        {
            granted = false;
            foreach (var queue in new[] { small, large })
            {
                // Waiters that gave up stay queued until they come up.
                while (queue.TryPeek(out var head, out _) && head.Done.Task.IsCompleted) queue.Dequeue();
                if (queue.TryPeek(out var next, out _) && TryGrant(next))
                {
                    queue.Dequeue();
                    granted = true;
                    break;
                }
            }
        }
    }

    private bool TryGrant(Waiter w)
    {
        if (reserved + w.Bytes > BudgetBytes) return false;
        if (running < Places) w.Place = Place.Shared;
        else if (w.Small && !smallPlaceTaken) (w.Place, smallPlaceTaken) = (Place.Small, true);
        else return false;
        running++;
        reserved += w.Bytes;
        (peakRunning, peakReserved) = (Math.Max(peakRunning, running), Math.Max(peakReserved, reserved));
        w.Done.TrySetResult(true);
        return true;
    }

    private void Release(Waiter w)
    {
        bool trim;
        lock (sync)
        {
            running--;
            reserved -= w.Bytes;
            if (w.Place == Place.Small) smallPlaceTaken = false;
            Pump();
            decodedSinceTrim += w.Bytes;
            trim = running == 0 && decodedSinceTrim >= TrimAfterBytes;
            if (trim) decodedSinceTrim = 0;
        }
        if (trim) ThreadPool.UnsafeQueueUserWorkItem(_ => NativeHeap.Trim(), null);
    }

    /// <summary>Once this much has been decoded and decoding goes idle, the native heap is trimmed.</summary>
    private const long TrimAfterBytes = 64L << 20;

    private long decodedSinceTrim;

    private enum Place { None, Shared, Small }

    private sealed class Waiter(long bytes, bool small)
    {
        public long Bytes { get; } = bytes;
        public bool Small { get; } = small;
        public Place Place { get; set; }
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lease(DecodeGate gate, Waiter waiter) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) gate.Release(waiter);
        }
    }
}
