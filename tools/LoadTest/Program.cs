using System.CommandLine;
using CaptionService.LoadTest;

// load-test: the service under closed-loop load on loopback, batching on and off, in one run.
var api = new Option<FileInfo>("--api") { Description = "The service's built CaptionService.Api.dll", Required = true };
var models = new Option<string[]>("--models") { Description = "tiny (the built-in demo checkpoint) and/or full (vit-b16-gpt2, random weights)", DefaultValueFactory = _ => ["tiny", "full"], AllowMultipleArgumentsPerToken = true };
var concurrency = new Option<int[]>("--concurrency") { Description = "Clients at once, one level each", DefaultValueFactory = _ => [1, 8, 32], AllowMultipleArgumentsPerToken = true };
var batchSizes = new Option<int[]>("--max-batch") { Description = "Captioner:Batching:MaxBatchSize values to compare (1 = batching off)", DefaultValueFactory = _ => [32, 1], AllowMultipleArgumentsPerToken = true };
var perClient = new Option<int>("--requests-per-client") { Description = "Requests per client at each level (at least --min-requests in all)", DefaultValueFactory = _ => 4 };
var minRequests = new Option<int>("--min-requests") { Description = "Fewest requests at a level", DefaultValueFactory = _ => 16 };
var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of every request", DefaultValueFactory = _ => 20 };
var fullCheckpoint = new Option<DirectoryInfo?>("--full-checkpoint") { Description = "A vit-b16-gpt2 checkpoint to use for 'full' (default: random weights written to a temporary folder)" };
var device = new Option<string>("--device") { Description = "Captioner:Device of the service: cpu, cuda or cuda:N", DefaultValueFactory = _ => "cpu" };
var dtype = new Option<string>("--dtype") { Description = "Captioner:DType of the service: fp32, bf16 or fp16 (CUDA)", DefaultValueFactory = _ => "fp32" };
var output = new Option<FileInfo?>("--out") { Description = "Markdown file whose load-test section is replaced with the results (e.g. docs/benchmarks.md)" };

var root = new RootCommand("Closed-loop load test of POST /captions against the real service on loopback")
{
    api, models, concurrency, batchSizes, perClient, minRequests, maxTokens, fullCheckpoint, device, dtype, output,
};
root.SetAction(async (result, cancellationToken) =>
{
    var options = new LoadTestOptions(
        result.GetValue(api)!.FullName,
        result.GetValue(models)!,
        result.GetValue(concurrency)!,
        result.GetValue(batchSizes)!,
        result.GetValue(perClient),
        result.GetValue(minRequests),
        result.GetValue(maxTokens),
        result.GetValue(fullCheckpoint)?.FullName,
        result.GetValue(output)?.FullName,
        result.GetValue(device)!,
        result.GetValue(dtype)!);
    return await LoadTest.RunAsync(options, cancellationToken);
});
return await root.Parse(args).InvokeAsync();
