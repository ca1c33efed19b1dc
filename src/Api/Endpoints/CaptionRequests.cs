using System.Diagnostics;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using CaptionService.Api.Telemetry;
using CaptionService.Model.Imaging;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// The path of a caption request, shared by both endpoints: read the upload, check the options,
/// preprocess each image on the request's thread, hand the tensors to the scheduler, and wait.
/// </summary>
public sealed class CaptionRequests(ModelHost host, CaptionScheduler scheduler, CaptionMetrics metrics, IOptions<CaptionerOptions> options)
{
    public async Task<(IReadOnlyList<CaptionResponse>? Captions, IResult? Problem)> HandleAsync(
        HttpRequest request, DecodingFields form, string field, int maxFiles)
    {
        var clock = Stopwatch.StartNew();
        var aborted = request.HttpContext.RequestAborted;
        var (images, problem) = await ImageUpload.ReadAsync(request, field, maxFiles, options.Value, aborted);
        if (problem is not null) return (null, problem);

        if (host.Current is not { } model || !scheduler.IsRunning)
            return (null, scheduler.IsRunning || host.Current is null ? ApiProblems.NotReady(host.State) : ApiProblems.ShuttingDown());
        var decoding = DecodingForm.Parse(form, model.Config.Decoding,
            new DecodingLimits(scheduler.MaxTokens, scheduler.Options.MaxBatchSize), out var errors);
        if (decoding is null) return (null, ApiProblems.Fields(errors));
        if (images!.Count > scheduler.Options.QueueCapacity)
            return (null, ApiProblems.Field(field, $"Send at most {scheduler.Options.QueueCapacity} images per request (the queue's capacity)."));

        // Decoding and resizing are thread-safe: done here, in parallel across requests.
        var pixels = new float[images.Count][];
        var preprocess = Stopwatch.StartNew();
        using (CaptionMetrics.Source.StartActivity("preprocess"))
        {
            for (int i = 0; i < images.Count; i++)
            {
                try
                {
                    pixels[i] = model.Pipeline.Preprocessor.ToChw(images[i].Bytes);
                }
                catch (ImageRejectedException e)
                {
                    return (null, ApiProblems.ImageRejected(e, images.Count == 1 ? null : ImageUpload.Describe(images[i].FileName, i, images.Count)));
                }
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

    private static double Ms(TimeSpan t) => Math.Round(t.TotalMilliseconds, 2);
}
