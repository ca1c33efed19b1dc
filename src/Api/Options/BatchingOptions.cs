namespace CaptionService.Api.Options;

/// <summary>
/// The "Captioner:Batching" section: how the scheduler batches requests
/// (environment: <c>Captioner__Batching__MaxBatchSize=32</c>, ...).
/// </summary>
public sealed class BatchingOptions
{
    /// <summary>Most sequences decoded together in one step (a beam request takes num_beams of them). 1 turns batching off.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>How long a request that finds the model idle waits for company before it starts alone (ms).</summary>
    public int MaxWaitMs { get; set; } = 5;

    /// <summary>Requests waiting for a place in the batch; beyond it the service answers 503 at once.</summary>
    public int QueueCapacity { get; set; } = 256;

    /// <summary>A request not answered in this time leaves the queue or batch and gets 503 (s).</summary>
    public double RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>Most tokens one caption may have (the KV cache's positions per sequence; capped by the model's positions).</summary>
    public int MaxTokens { get; set; } = 64;

    /// <summary>Most newcomers' images encoded between two decoding steps while captions are running (0: no
    /// limit). Encoding is a pause for every running caption; a burst of arrivals is admitted a few
    /// images per step instead of all at once, so no caption waits for a whole burst's encoder work.
    /// When nothing is running, everything that fits is admitted at once.</summary>
    public int MaxAdmitPerStep { get; set; } = 2;

    /// <summary>Most ViT blocks run on newcomers' images between two decoding steps while captions are running
    /// (0: the whole encoder at once). A newcomer's encoding is spread over that many steps' pauses instead of one
    /// long pause, which bounds the encoder work any running caption waits for per token: with 1 (the default), a
    /// step waits for at most one block of MaxAdmitPerStep images. The newcomer starts a few steps later (a 12-block
    /// ViT-B: 12 steps). When nothing is running, newcomers are encoded at once.</summary>
    public int EncoderBlocksPerStep { get; set; } = 1;

    public TimeSpan MaxWait => TimeSpan.FromMilliseconds(MaxWaitMs);
    public TimeSpan RequestTimeout => TimeSpan.FromSeconds(RequestTimeoutSeconds);

    public IEnumerable<string> Validate(string section)
    {
        if (MaxBatchSize < 1) yield return $"{section}:MaxBatchSize: must be at least 1 (got {MaxBatchSize})";
        if (MaxWaitMs < 0) yield return $"{section}:MaxWaitMs: must be 0 or more milliseconds (got {MaxWaitMs})";
        if (QueueCapacity < 1) yield return $"{section}:QueueCapacity: must be at least 1 (got {QueueCapacity})";
        if (!(RequestTimeoutSeconds > 0) || double.IsInfinity(RequestTimeoutSeconds))
            yield return $"{section}:RequestTimeoutSeconds: must be a positive number of seconds (got {RequestTimeoutSeconds})";
        if (MaxAdmitPerStep < 0) yield return $"{section}:MaxAdmitPerStep: must be 0 (no limit) or more images (got {MaxAdmitPerStep})";
        if (EncoderBlocksPerStep < 0) yield return $"{section}:EncoderBlocksPerStep: must be 0 (the whole encoder at once) or more blocks (got {EncoderBlocksPerStep})";
        if (MaxTokens < 1) yield return $"{section}:MaxTokens: must be at least 1 (got {MaxTokens})";
    }
}
