using CaptionService.TestSupport;

namespace CaptionService.Hub.Tests;

/// <summary>A fake Hub, an empty cache folder, and settings that point at both; disposed after each test.</summary>
public sealed class HubTestBed : IAsyncDisposable
{
    public const string Repo = "tiny/vit-gpt2";
    public const string Weights = "model.safetensors";

    /// <summary>The tiny ViT-GPT2 repository's files (built once; the model with seed 1).</summary>
    public static readonly Lazy<List<HubFile>> VitGpt2Files = new(() => TinyRepos.VitGpt2(seed: 1));

    /// <summary>Fast retries for tests: three tries, 10 ms apart.</summary>
    public static readonly RetryPolicy FastRetries = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(40));

    private HubTestBed(FakeHub hub) => Hub = hub;

    public FakeHub Hub { get; }
    public string Cache { get; } = Directory.CreateTempSubdirectory("hub-cache-").FullName;
    public string Commit { get; private set; } = "";

    public static async Task<HubTestBed> StartAsync(bool addRepo = true)
    {
        var bed = new HubTestBed(await FakeHub.StartAsync());
        if (addRepo) bed.Commit = bed.Hub.AddRepo(Repo, VitGpt2Files.Value);
        return bed;
    }

    public HubSettings Settings(string? token = null, bool offline = false) => new()
    {
        Endpoint = Hub.Endpoint,
        CacheDirectory = Cache,
        Token = token,
        TokenSource = token is null ? null : "HF_TOKEN",
        Offline = offline,
        MetadataTimeout = TimeSpan.FromSeconds(5),
        DownloadTimeout = TimeSpan.FromSeconds(5),
    };

    public async Task<ResolvedModel> ResolveAsync(string reference, HubSettings? settings = null, ModelPurpose purpose = ModelPurpose.Captioner,
        IProgress<HubProgress>? progress = null, RetryPolicy? retry = null, List<string>? warnings = null)
    {
        using var source = new ModelSource(settings ?? Settings(), retry ?? FastRetries, warnings is null ? null : warnings.Add);
        return await source.ResolveAsync(reference, purpose, progress, CancellationToken.None);
    }

    public string RepoFolder => Path.Combine(Cache, "models--tiny--vit-gpt2");

    public HubFile File(string name) => VitGpt2Files.Value.Single(f => f.Name == name);

    public async ValueTask DisposeAsync()
    {
        await Hub.DisposeAsync();
        Directory.Delete(Cache, recursive: true);
    }
}

/// <summary>Collects progress reports as they come (synchronously, unlike <see cref="Progress{T}"/>).</summary>
public sealed class ProgressLog : IProgress<HubProgress>
{
    public List<HubProgress> Reports { get; } = [];

    public void Report(HubProgress value)
    {
        lock (Reports) Reports.Add(value);
    }

    /// <summary>Waits (at most <paramref name="timeout"/>) for a report that matches; false if none came.
    /// Reports may keep coming from another thread meanwhile.</summary>
    public async Task<bool> WaitForAsync(Func<HubProgress, bool> match, TimeSpan timeout)
    {
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline; await Task.Delay(10))
            lock (Reports) if (Reports.Any(match)) return true;
        return false;
    }
}
