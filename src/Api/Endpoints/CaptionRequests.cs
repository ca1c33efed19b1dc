using System.Diagnostics;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model.Generation;
using CaptionService.Model.Imaging;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// The path of a caption request, shared by both endpoints, once the middleware has let it in
/// (<see cref="AccessControl"/>, the rate limit, <see cref="IntakeGate"/>): check the form and the
/// options, then for each image read its header, wait for a decode lease
/// (<see cref="DecodeGate"/>), decode and preprocess it; hand the tensors to the scheduler, and wait.
/// </summary>
public sealed class CaptionRequests(ModelHost host, CaptionScheduler scheduler, DecodeGate gate, CaptionMetrics metrics, IOptions<CaptionerOptions> options)
{
    public async Task<(IReadOnlyList<CaptionResponse>? Captions, IResult? Problem)> HandleAsync(
        HttpRequest request, DecodingFields form, string field, int maxFiles)
    {
        var clock = Stopwatch.StartNew();
        var aborted = request.HttpContext.RequestAborted;
        var (images, problem) = await ImageUpload.ReadAsync(request, field, maxFiles, options.Value, aborted);
        if (problem is not null) return (null, problem);

        if (IntakeGate.Refusal(host, scheduler) is { } refusal) return (null, refusal);
        var model = host.Current!;
        var decoding = DecodingForm.Parse(form, model.Config.Decoding,
            new DecodingLimits(scheduler.MaxTokens, scheduler.Options.MaxBatchSize), out var errors);
        if (decoding is null) return (null, ApiProblems.Fields(errors));
        if (images!.Count > scheduler.Options.QueueCapacity)
            return (null, ApiProblems.Field(field, $"Send at most {scheduler.Options.QueueCapacity} images per request (the queue's capacity)."));

        var pixels = new float[images.Count][];
        var preprocess = Stopwatch.StartNew();
        using (CaptionMetrics.Source.StartActivity("preprocess"))
        {
            for (int i = 0; i < images.Count; i++)
            {
                string? which = images.Count == 1 ? null : ImageUpload.Describe(images[i].FileName, i, images.Count);
                var (image, refused) = await PreprocessAsync(model, images[i], which, aborted);
                if (refused is not null) return (null, refused);
                pixels[i] = image!;
            }
        }
        preprocess.Stop();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(scheduler.Options.RequestTimeout);
        var jobs = new List<CaptionJob>(images.Count);
        try
        {
            foreach (var image in pixels)
            {
                var job = new CaptionJob(image, decoding, timeout.Token);
                scheduler.Submit(job);
                jobs.Add(job);
            }
            await Task.WhenAll(jobs.Select(j => j.Completion)).WaitAsync(timeout.Token);
        }
        catch (QueueFullException)
        {
            return (null, ApiProblems.QueueFull(scheduler.Options.QueueCapacity));
        }
        catch (ShuttingDownException)
        {
            return (null, ApiProblems.ShuttingDown());
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            // Our timeout, or the scheduler cancelling what was left when the shutdown ran out of time.
            return (null, timeout.IsCancellationRequested ? ApiProblems.TimedOut(scheduler.Options.RequestTimeout) : ApiProblems.ShuttingDown());
        }
        catch (DecodingOptionsException e)
        {
            // Options the scheduler found it cannot decode (the edge checks should have caught them).
            return (null, ApiProblems.Fields(DecodingForm.FieldErrors(e.Problems)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The model failed on this request alone (the scheduler logged it); the batch went on.
            return (null, ApiProblems.CaptionFailed());
        }
        finally
        {
            // Whatever did not finish (a full queue part-way, a timeout, a client gone) leaves the queue or batch.
            if (jobs.Any(j => !j.Completion.IsCompletedSuccessfully)) await timeout.CancelAsync();
        }

        var used = DecodingUsed.From(decoding, model.Config);
        var answers = new List<CaptionResponse>(jobs.Count);
        foreach (var job in jobs)
        {
            var done = job.Completion.Result;
            metrics.Captioned(clock.Elapsed, done.Sequence.Tokens.Length);
            answers.Add(new CaptionResponse(
                model.Pipeline.Tokenizer.Decode(done.Sequence.Tokens),
                done.Sequence.Tokens.Length,
                used,
                new ModelRef(model.Id, model.Notice),
                new CaptionTimings(Ms(done.Queue), Ms(preprocess.Elapsed), Ms(done.Encode), Ms(done.Decode), Ms(clock.Elapsed))));
        }
        return (answers, null);
    }

    /// <summary>One upload -> normalized pixels. The header is read from where the form keeps the
    /// upload; the bytes come into memory, and the image is decoded, only under a lease for the
    /// memory that takes. Decoding and resizing are thread-safe: leases run in parallel.</summary>
    /// <param name="which">null for a single upload, else which image of a batch</param>
    private async Task<(float[]? Pixels, IResult? Problem)> PreprocessAsync(LoadedModel model, UploadedImage upload, string? which, CancellationToken cancellationToken)
    {
        var preprocessor = model.Pipeline.Preprocessor;
        try
        {
            ImageInfo header;
            await using (var stream = upload.File.OpenReadStream()) header = preprocessor.Identify(stream);
            using var lease = await gate.EnterAsync(header.Bytes + DecodeCost.Bytes(header), (long)header.Width * header.Height, cancellationToken);
            if (lease is null) return (null, ApiProblems.DecodeBusy(gate.Wait));
            // The queue may have filled while this one waited: refuse before paying for the decode.
            if (IntakeGate.Refusal(host, scheduler) is { } refusal) return (null, refusal);
            var bytes = new byte[upload.File.Length];
            await using (var stream = upload.File.OpenReadStream()) await stream.ReadExactlyAsync(bytes, cancellationToken);
            return (preprocessor.ToChw(bytes), null);
        }
        catch (ImageRejectedException e)
        {
            return (null, ApiProblems.ImageRejected(e, which));
        }
    }

    private static double Ms(TimeSpan t) => Math.Round(t.TotalMilliseconds, 2);
}
