using System.CommandLine;
using CaptionService.LoadTest;

// load-test: the service under closed-loop load on loopback, batching on and off, in one run;
// `soak` and `bombs` below.
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
// load-test soak: good traffic with and without a stream of hostile requests (tools/LoadTest/Soak.cs).
var soakApi = new Option<FileInfo>("--api") { Description = "The service's built CaptionService.Api.dll", Required = true };
var baselineSeconds = new Option<double>("--baseline-seconds") { Description = "Good traffic alone", DefaultValueFactory = _ => 30 };
var mixedSeconds = new Option<double>("--mixed-seconds") { Description = "Good traffic with the hostile stream", DefaultValueFactory = _ => 60 };
var goodClients = new Option<int>("--good-clients") { Description = "Good clients, each with its own API key and address", DefaultValueFactory = _ => 4 };
var hostileClients = new Option<int>("--hostile-clients") { Description = "Hostile clients, each cycling through the cases", DefaultValueFactory = _ => 3 };
var bombSide = new Option<int>("--bomb-side") { Description = "Side of the single-colour PNG bombs (6300: just under the default 40 MP)", DefaultValueFactory = _ => 6300 };
var soakOutput = new Option<FileInfo?>("--out") { Description = "Markdown file whose soak section is replaced with the results" };
var soakCases = new Option<string[]>("--cases") { Description = "Only the hostile cases whose names contain one of these words (e.g. bomb, stalls); all by default", AllowMultipleArgumentsPerToken = true };
var soak = new Command("soak", "Good traffic from several clients with and without a stream of hostile requests, on loopback; exit code 1 when a good request failed, a hostile one got a server error or tensors were left")
{
    soakApi, baselineSeconds, mixedSeconds, goodClients, hostileClients, bombSide, soakOutput, soakCases,
};
soak.SetAction(async (result, cancellationToken) =>
{
    var report = await Soak.RunAsync(new SoakOptions(result.GetValue(soakApi)!.FullName, result.GetValue(baselineSeconds), result.GetValue(mixedSeconds),
        result.GetValue(goodClients), result.GetValue(hostileClients), BombSide: result.GetValue(bombSide), Output: result.GetValue(soakOutput)?.FullName,
        Cases: result.GetValue(soakCases)),
        line => Console.WriteLine(line), cancellationToken);
    Console.WriteLine();
    Console.WriteLine(report.Markdown);
    return report.Passed ? 0 : 1;
});
root.Subcommands.Add(soak);

// load-test bombs: decompression bombs at once, resident memory and a good request's latency (tools/LoadTest/Bombs.cs).
var bombsApi = new Option<FileInfo>("--api") { Description = "The service's built CaptionService.Api.dll", Required = true };
var compareApi = new Option<FileInfo?>("--compare-api") { Description = "Another build (before a change) to run the same burst against first" };
var bombCount = new Option<int>("--bombs") { Description = "Uploads at once", DefaultValueFactory = _ => 48 };
var side = new Option<int>("--side") { Description = "Side of the single-colour PNG", DefaultValueFactory = _ => 6300 };
var bombsOutput = new Option<FileInfo?>("--out") { Description = "Markdown file whose bombs section is replaced with the results" };
var bombs = new Command("bombs", "Decompression bombs at once against the service with its default settings: resident memory, and a good request's latency meanwhile")
{
    bombsApi, compareApi, bombCount, side, bombsOutput,
};
bombs.SetAction(async (result, cancellationToken) =>
{
    await Bombs.RunAsync(new BombOptions(result.GetValue(bombsApi)!.FullName, result.GetValue(compareApi)?.FullName, result.GetValue(bombCount),
        result.GetValue(side), result.GetValue(bombsOutput)?.FullName), line => Console.WriteLine(line), cancellationToken);
    return 0;
});
root.Subcommands.Add(bombs);

// load-test poisson: open-loop arrivals, TTFT / TPOT / total latency per admission setting (tools/LoadTest/Poisson.cs).
var poissonApi = new Option<FileInfo>("--api") { Description = "The service's built CaptionService.Api.dll", Required = true };
var poissonModel = new Option<string>("--model") { Description = "tiny (the built-in demo checkpoint) or full (vit-b16-gpt2, random weights)", DefaultValueFactory = _ => "full" };
var rate = new Option<double>("--rate") { Description = "Mean arrivals per second", DefaultValueFactory = _ => 1 };
var seconds = new Option<double>("--seconds") { Description = "How long requests arrive", DefaultValueFactory = _ => 60 };
var poissonTokens = new Option<int>("--max-tokens") { Description = "max_tokens of every request", DefaultValueFactory = _ => 20 };
var admits = new Option<int[]>("--max-admit") { Description = "Captioner:Batching:MaxAdmitPerStep values to compare (0 = no limit)", DefaultValueFactory = _ => [0, 2], AllowMultipleArgumentsPerToken = true };
var blocksPerStep = new Option<int[]>("--blocks-per-step") { Description = "Captioner:Batching:EncoderBlocksPerStep values to compare with each --max-admit (0 = the whole encoder at once)", DefaultValueFactory = _ => [0, 1], AllowMultipleArgumentsPerToken = true };
var poissonDType = new Option<string>("--dtype") { Description = "Captioner:DType of the service", DefaultValueFactory = _ => "auto" };
var poissonOutput = new Option<FileInfo?>("--out") { Description = "Markdown file whose poisson section is replaced with the results" };
var poisson = new Command("poisson", "Open-loop Poisson arrivals on loopback: TTFT, TPOT and total latency p50/p99 per admission setting")
{
    poissonApi, poissonModel, rate, seconds, poissonTokens, admits, blocksPerStep, poissonDType, poissonOutput,
};
poisson.SetAction(async (result, cancellationToken) =>
    await Poisson.RunAsync(new PoissonOptions(result.GetValue(poissonApi)!.FullName, result.GetValue(poissonModel)!, result.GetValue(rate), result.GetValue(seconds),
        result.GetValue(poissonTokens), result.GetValue(admits)!, result.GetValue(poissonDType)!, result.GetValue(poissonOutput)?.FullName,
        EncoderBlocksPerStep: result.GetValue(blocksPerStep)),
        line => Console.WriteLine(line), cancellationToken));
root.Subcommands.Add(poisson);

return await root.Parse(args).InvokeAsync();
