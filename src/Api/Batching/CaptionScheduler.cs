using System.Threading.Channels;
using CaptionService.Api.Hosting;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model;
using CaptionService.Model.Generation;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Batching;

/// <summary>
/// The only code that touches the model once it is loaded: continuous (iteration-level) batching
/// on one dedicated thread. Requests wait in a bounded queue. Before every decode step the
/// scheduler admits waiting jobs while the batch has rows for them, encodes the newcomers together
/// (while captions run, a few encoder blocks per step: <see cref="BatchingOptions.EncoderBlocksPerStep"/>)
/// and joins them to the running <see cref="DecodingBatch"/>; then it decodes one token for
/// every sequence and answers each job the moment its caption ends. A job whose client left or
/// whose time ran out leaves the batch at the next step.
/// </summary>
public sealed class CaptionScheduler : IDisposable
{
    private readonly BatchingOptions options;
    private readonly CaptionMetrics metrics;
    private readonly ILogger<CaptionScheduler> logger;
    private readonly Channel<CaptionJob> queue;
    private readonly List<CaptionJob> running = [];
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource abort = new();
    private LoadedModel? model;
    private Thread? thread;
    private volatile int activeRows;
    private long liveTensors;
    private long stepsSinceTrim;   // scheduler thread only
    private volatile Staged? staged; // newcomers part-way through the encoder (changed by the scheduler thread only)

    /// <summary>Jobs being encoded a few blocks per step, since <paramref name="Started"/>, with the batch's rows then.</summary>
    private sealed record Staged(Admission Admission, List<CaptionJob> Jobs, DateTimeOffset Started, int RowsBefore)
    {
        public int Slices { get; set; }
    }

    /// <summary>Idle this long after work, the scheduler hands freed memory back (<see cref="NativeHeap"/>).</summary>
    private static readonly TimeSpan IdleTrimAfter = TimeSpan.FromSeconds(1);
    private volatile bool stopping;

    public CaptionScheduler(IOptions<CaptionerOptions> options, CaptionMetrics metrics, ILogger<CaptionScheduler> logger)
    {
        this.options = options.Value.Batching;
        this.metrics = metrics;
        this.logger = logger;
        queue = Channel.CreateBounded<CaptionJob>(new BoundedChannelOptions(this.options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite answers false when full: the caller gets 503 at once
        });
        metrics.QueueDepth = () => queue.Reader.Count;
        metrics.ActiveSequences = () => activeRows;
        metrics.LiveTensors = () => LiveTensors;
    }

    /// <summary>Most tokens one caption may take here (the batch's KV-cache positions per sequence).</summary>
    public int MaxTokens { get; private set; }

    public int QueueDepth => queue.Reader.Count;

    /// <summary>Sequences in the running batch (a beam caption counts its beams).</summary>
    public int ActiveSequences => activeRows;

    /// <summary>Requests whose images are part-way through the encoder, about to join the batch.</summary>
    public int StagedRequests => staged?.Jobs.Count ?? 0;

    /// <summary>Tensors made by the scheduler's thread and not yet freed, as of its last step: the KV
    /// cache and the batch's tokens while it runs, 0 when idle (a leak shows as growth).</summary>
    public long LiveTensors => Interlocked.Read(ref liveTensors);

    /// <summary>True from <see cref="Start"/> until it stops: requests are taken.</summary>
    public bool IsRunning => thread is not null && !stopped.Task.IsCompleted && !stopping;

    public BatchingOptions Options => options;

    /// <summary>Starts the scheduler thread on a loaded, warmed-up model.</summary>
    public void Start(LoadedModel loaded)
    {
        if (thread is not null) throw new InvalidOperationException("The scheduler is already running.");
        model = loaded;
        MaxTokens = Math.Min(options.MaxTokens, loaded.Config.MaxPositions - 1);
        thread = new Thread(Run) { Name = "caption-scheduler", IsBackground = true };
        thread.Start();
    }

    /// <summary>Queues a job (await its <see cref="CaptionJob.Completion"/>), or throws <see cref="QueueFullException"/> / <see cref="ShuttingDownException"/> at once.</summary>
    public void Submit(CaptionJob job)
    {
        job.Submitted = DateTimeOffset.UtcNow;
        if (queue.Writer.TryWrite(job)) return;
        if (queue.Reader.Completion.IsCompleted || stopping) throw new ShuttingDownException();
        throw new QueueFullException(options.QueueCapacity);
    }

    /// <summary>Stops admitting new jobs, finishes the queued and running ones, then stops. When
    /// <paramref name="cancellationToken"/> fires first, what is left is cancelled.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        stopping = true;
        queue.Writer.TryComplete();
        if (thread is null) return;
        using var registration = cancellationToken.Register(abort.Cancel);
        await stopped.Task;
    }

    private void Run()
    {
        var m = model!;
        var batch = new DecodingBatch(m.Pipeline.Model, MaxTokens);
        try
        {
            while (WaitForWork())
            {
                try
                {
                    DropCancelled(batch);
                    if (staged is null) Admit(batch);
                    else ContinueStaged(batch);
                    if (batch.IsEmpty) continue;
                    metrics.Step(batch.Rows);
                    stepsSinceTrim++;
                    var left = batch.Step();
                    var now = DateTimeOffset.UtcNow;
                    foreach (var group in left)
                        Finish(running.Single(j => j.Group == group), now);
                    activeRows = batch.Rows;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The batch isolates what its captions and the model throw (DecodingBatch.Step); this is
                    // its own bookkeeping failing (out of memory reordering the cache, say), which nobody
                    // can be told apart in. Fail the batch's jobs, not the service: start again empty.
                    logger.LogError(e, "The decoding batch failed as a whole; failing its {Count} requests", running.Count);
                    foreach (var job in running.Concat(staged?.Jobs ?? [])) { job.Fail(e); job.Group?.Dispose(); }
                    running.Clear();
                    staged?.Admission.Dispose();
                    staged = null;
                    batch.Dispose();
                    batch = new DecodingBatch(m.Pipeline.Model, MaxTokens);
                    activeRows = 0;
                }
                finally
                {
                    // This thread's: every tensor of the batch is made here.
                    Interlocked.Exchange(ref liveTensors, TorchRuntime.LiveTensorsOnThisThread);
                }
            }
        }
        finally
        {
            foreach (var job in running.Concat(staged?.Jobs ?? [])) { job.Cancel(); job.Group?.Dispose(); }
            while (queue.Reader.TryRead(out var job)) job.Cancel();
            running.Clear();
            staged?.Admission.Dispose();
            staged = null;
            batch.Dispose();
            activeRows = 0;
            stopped.TrySetResult();
        }

        bool WaitForWork()
        {
            if (abort.IsCancellationRequested) return false;
            if (running.Count > 0 || staged is not null) return true;
            // Idle: block until a job arrives (false once the queue is completed and empty). After a
            // second without work, the memory the batch's tensors took goes back to the system.
            try
            {
                var arrival = queue.Reader.WaitToReadAsync(abort.Token).AsTask();
                if (Task.WaitAny([arrival], IdleTrimAfter) < 0 && stepsSinceTrim > 0)
                {
                    NativeHeap.Trim();
                    stepsSinceTrim = 0;
                }
                if (!arrival.GetAwaiter().GetResult()) return false;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            // A lone job waits a little for company, unless a full batch is already waiting.
            var deadline = DateTime.UtcNow + options.MaxWait;
            while (queue.Reader.Count < options.MaxBatchSize && DateTime.UtcNow < deadline && !abort.IsCancellationRequested)
                Thread.Sleep(1);
            return true;
        }
    }

    /// <summary>Moves queued jobs into the batch while it has rows for them (first come, first
    /// served), at most <see cref="BatchingOptions.MaxAdmitPerStep"/> while captions are running, and
    /// encodes the newcomers together. A job that can never be decoded here (more beams
    /// than the batch holds, more tokens than its cache, options out of range) is refused on its own
    /// instead of waiting at the head of the queue for ever.</summary>
    private void Admit(DecodingBatch batch)
    {
        var m = model!;
        var newcomers = new List<CaptionJob>();
        int rows = batch.Rows;
        int most = batch.IsEmpty || options.MaxAdmitPerStep == 0 ? int.MaxValue : options.MaxAdmitPerStep;
        while (newcomers.Count < most && queue.Reader.TryPeek(out var next))
        {
            int need = DecodingGroup.RowsFor(next.Options);
            bool fits = need <= options.MaxBatchSize;
            if (fits && !next.Cancellation.IsCancellationRequested && rows + need > options.MaxBatchSize) break;
            queue.Reader.TryRead(out _);
            if (next.Cancellation.IsCancellationRequested) { next.Cancel(); continue; }
            try
            {
                if (!fits) throw new DecodingOptionsException($"num_beams must be at most {options.MaxBatchSize} here (got {need})");
                next.Group = DecodingGroup.For(m.Config, next.Options);
                if (next.Group.MaxNewTokens > MaxTokens)
                    throw new DecodingOptionsException($"max_new_tokens must be at most {MaxTokens} here (got {next.Group.MaxNewTokens})");
            }
            catch (Exception e)
            {
                Fail(next, e);
                continue;
            }
            rows += next.Group.InitialRows;
            newcomers.Add(next);
        }
        if (newcomers.Count == 0) return;
        if (batch.IsEmpty || options.EncoderBlocksPerStep == 0)
            AdmitTogether(batch, newcomers);
        else
            Stage(batch, newcomers);
        activeRows = batch.Rows;
    }

    /// <summary>Starts encoding the newcomers a few blocks per step; when that fails, admits them the whole way.</summary>
    private void Stage(DecodingBatch batch, List<CaptionJob> jobs)
    {
        var started = DateTimeOffset.UtcNow;
        try
        {
            staged = new Staged(model!.Pipeline.BeginAdmit(batch, jobs.Select(j => j.Image), jobs.Select(j => j.Group!).ToList()),
                jobs, started, batch.Rows);
        }
        catch (Exception)
        {
            AdmitTogether(batch, jobs);
            return;
        }
        ContinueStaged(batch);
    }

    /// <summary>Runs the staged newcomers' next encoder blocks (all that are left when nothing else is running)
    /// and joins them to the batch once encoded. A failure on the way sends them through
    /// <see cref="AdmitTogether"/>, which finds the job it fails with.</summary>
    private void ContinueStaged(DecodingBatch batch)
    {
        var now = staged!;
        try
        {
            now.Admission.Advance(batch.IsEmpty ? int.MaxValue : options.EncoderBlocksPerStep);
            now.Slices++;
            if (!now.Admission.IsEncoded) return;
            batch.Admit(now.Admission);
        }
        catch (Exception)
        {
            staged = null;
            now.Admission.Dispose();
            AdmitTogether(batch, now.Jobs);
            return;
        }
        staged = null;
        now.Admission.Dispose();
        Joined(now.Jobs, now.Started, now.RowsBefore, now.Slices, batch);
        activeRows = batch.Rows;
    }

    /// <summary>Encodes the jobs' images in one pass and joins them to the batch. When that throws
    /// (out of memory, an image the encoder fails on), whose fault it is cannot be told: each half is
    /// admitted on its own, down to the job it still fails with. The batch is unchanged by a failed
    /// admission (<see cref="DecodingBatch.Admit(TorchSharp.torch.Tensor, IReadOnlyList{DecodingGroup})"/>), so the running captions never notice.</summary>
    private void AdmitTogether(DecodingBatch batch, List<CaptionJob> jobs)
    {
        var m = model!;
        var admitted = DateTimeOffset.UtcNow;
        int rowsBefore = batch.Rows;
        try
        {
            m.Pipeline.Admit(batch, jobs.Select(j => j.Image), jobs.Select(j => j.Group!).ToList());
        }
        catch (Exception) when (jobs.Count > 1)
        {
            int half = jobs.Count / 2;
            AdmitTogether(batch, jobs.GetRange(0, half));
            AdmitTogether(batch, jobs.GetRange(half, jobs.Count - half));
            return;
        }
        catch (Exception e)
        {
            Fail(jobs[0], e);
            return;
        }
        Joined(jobs, admitted, rowsBefore, slices: 1, batch);
    }

    /// <summary>Newcomers whose encoding began at <paramref name="admitted"/> are in the batch: their spans, and they run.</summary>
    private void Joined(List<CaptionJob> jobs, DateTimeOffset admitted, int rowsBefore, int slices, DecodingBatch batch)
    {
        var encoded = DateTimeOffset.UtcNow;
        foreach (var job in jobs)
        {
            (job.Admitted, job.Encoded, job.BatchRows) = (admitted, encoded, batch.Rows);
            CaptionMetrics.Span("queue", job.Parent, job.Submitted, admitted);
            CaptionMetrics.Span("encode", job.Parent, admitted, encoded, ("captioner.encode.images", jobs.Count),
                ("captioner.encode.running_rows", rowsBefore), ("captioner.encode.slices", slices));
        }
        running.AddRange(jobs);
    }

    /// <summary>Jobs whose client left or whose time ran out leave the batch and free their rows.</summary>
    private void DropCancelled(DecodingBatch batch)
    {
        foreach (var job in running.Where(j => j.Cancellation.IsCancellationRequested).ToList())
        {
            batch.Remove(job.Group!);
            job.Group!.Dispose();
            running.Remove(job);
            job.Cancel();
        }
        activeRows = batch.Rows;

        // Newcomers part-way through the encoder leave before they join: their images are not encoded further.
        if (staged is not { } now) return;
        var gone = now.Jobs.Where(j => j.Cancellation.IsCancellationRequested).ToHashSet();
        if (gone.Count == 0) return;
        if (gone.Count == now.Jobs.Count)
        {
            now.Admission.Dispose();
            staged = null;
        }
        else
        {
            now.Admission.Keep([.. Enumerable.Range(0, now.Jobs.Count).Where(i => !gone.Contains(now.Jobs[i]))]);
        }
        now.Jobs.RemoveAll(gone.Contains);
        foreach (var job in gone)
        {
            job.Group!.Dispose();
            job.Cancel();
        }
    }

    /// <summary>A job whose caption left the batch: done, or failed on its own.</summary>
    private void Finish(CaptionJob job, DateTimeOffset now)
    {
        running.Remove(job);
        if (job.Group!.Error is { } error)
        {
            Fail(job, error);
            return;
        }
        CaptionMetrics.Span("decode", job.Parent, job.Encoded, now,
            ("captioner.tokens", job.Group.Result.Tokens.Length), ("captioner.batch.rows", job.BatchRows));
        job.Succeed(now);
        job.Group.Dispose();
    }

    /// <summary>Fails one job (the others go on): <see cref="DecodingOptionsException"/> is the
    /// request's mistake (its client gets 400), anything else a failure of ours (500, logged).</summary>
    private void Fail(CaptionJob job, Exception error)
    {
        if (error is DecodingOptionsException)
            logger.LogInformation("Caption request refused by the scheduler: {Reason}", error.Message);
        else
            logger.LogError(error, "A caption failed; only its request fails, the batch goes on");
        job.Fail(error);
        job.Group?.Dispose();
    }

    public void Dispose()
    {
        abort.Cancel();
        queue.Writer.TryComplete();
        thread?.Join(TimeSpan.FromSeconds(10));
        abort.Dispose();
    }
}
