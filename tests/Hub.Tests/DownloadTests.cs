using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.TestSupport;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static CaptionService.Hub.Tests.HubTestBed;

namespace CaptionService.Hub.Tests;

public class DownloadTests
{
    internal static byte[] Png(byte red)
    {
        using var image = new Image<Rgb24>(40, 30, new Rgb24(red, 60, 200));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    [Fact]
    public async Task First_download_fills_huggingface_hub_s_layout_and_captions_like_the_original_model()
    {
        await using var bed = await StartAsync();
        var progress = new ProgressLog();
        var model = await bed.ResolveAsync($"hf:{Repo}", progress: progress);

        Assert.Equal(Repo, model.Id);
        Assert.Equal(new HubOrigin(Repo, "main", bed.Commit), model.Hub);
        Assert.Equal(Path.Combine(bed.RepoFolder, "snapshots", bed.Commit), model.Directory);
        Assert.Equal(Path.Combine(bed.RepoFolder, "captionservice", bed.Commit, Weights), model.ConvertedWeights); // where a loader keeps its conversion
        Assert.Equal(bed.Commit, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "main")));
        var weights = bed.File(Weights);
        var link = new FileInfo(Path.Combine(model.Directory, Weights));
        Assert.Equal($"../../blobs/{weights.Sha256}", link.LinkTarget); // relative, as huggingface_hub makes them
        Assert.Equal(weights.Length, new FileInfo(Path.Combine(bed.RepoFolder, "blobs", weights.Sha256)).Length);
        Assert.Equal($"../../blobs/{bed.File("config.json").GitSha1}", new FileInfo(Path.Combine(model.Directory, "config.json")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(bed.Cache, ".locks", "models--tiny--vit-gpt2", weights.Sha256 + ".lock")));
        Assert.Empty(Directory.GetFiles(Path.Combine(bed.RepoFolder, "blobs"), "*.incomplete"));
        // Only what a captioner needs: not the README, merges or tokenizer_config.
        Assert.Equal(["config.json", Weights, "preprocessor_config.json", "vocab.json"], Directory.GetFiles(model.Directory).Select(Path.GetFileName).Order());
        Assert.Equal(0, bed.Hub.RequestsFor("README.md"));

        var last = progress.Reports[^1];
        Assert.Equal((Weights, weights.Length, weights.Length), (last.File, last.Bytes, last.TotalBytes)); // the weights' pull ends at 100%

        // The converted model captions exactly as the model whose weights the repository holds.
        using var original = TinyRepos.VitGpt2Model(seed: 1);
        using var loaded = Checkpoint.Load(model.Directory);
        var images = new[] { Png(200), Png(20) };
        var expected = new CaptionPipeline(original).Caption(images, loaded.Config.Decoding);
        var actual = new CaptionPipeline(loaded).Caption(images);
        Assert.Equal(expected.Select(c => c.Tokens.ToArray()), actual.Select(c => c.Tokens.ToArray()));
    }

    [Fact]
    public async Task A_second_run_asks_for_the_revision_only_and_downloads_nothing()
    {
        await using var bed = await StartAsync();
        var first = await bed.ResolveAsync($"hf:{Repo}");
        int before = bed.Hub.Requests.Count;

        var second = await bed.ResolveAsync($"hf:{Repo}");

        Assert.Equal(first, second);
        var after = bed.Hub.Requests.Skip(before).ToList();
        var only = Assert.Single(after);
        Assert.Equal($"/api/models/{Repo}/revision/main", only.Path);
        Assert.Equal(1, bed.Hub.TransfersOf(Weights));
    }

    [Fact]
    public async Task Offline_the_cache_alone_is_used_and_a_model_not_there_is_one_clear_line()
    {
        await using var bed = await StartAsync();
        var online = await bed.ResolveAsync($"hf:{Repo}");
        int before = bed.Hub.Requests.Count;

        var offline = await bed.ResolveAsync($"hf:{Repo}", bed.Settings(offline: true));
        Assert.Equal(online, offline);
        Assert.Equal(before, bed.Hub.Requests.Count); // no network at all

        var e = await Assert.ThrowsAsync<HubException>(() => bed.ResolveAsync("hf:tiny/never-downloaded", bed.Settings(offline: true)));
        Assert.Equal(HubErrorKind.Offline, e.Kind);
        Assert.Equal($"hf:tiny/never-downloaded: not in the Hugging Face cache ({bed.Cache}) and HF_HUB_OFFLINE is set; " +
            "run once with network access or unset HF_HUB_OFFLINE", e.Message);
    }

    [Fact]
    public async Task A_cache_written_by_huggingface_hub_is_used_as_it_is_offline_and_online()
    {
        await using var bed = await StartAsync();
        // The layout Python's hf_hub_download leaves: blobs by id, relative links, refs/main.
        var snapshot = Directory.CreateDirectory(Path.Combine(bed.RepoFolder, "snapshots", bed.Commit)).FullName;
        Directory.CreateDirectory(Path.Combine(bed.RepoFolder, "blobs"));
        Directory.CreateDirectory(Path.Combine(bed.RepoFolder, "refs"));
        File.WriteAllText(Path.Combine(bed.RepoFolder, "refs", "main"), bed.Commit);
        foreach (var name in new[] { "config.json", "preprocessor_config.json", "vocab.json", Weights, "tokenizer_config.json" })
        {
            var file = bed.File(name);
            var id = name == Weights ? file.Sha256 : file.GitSha1;
            using (var blob = File.Create(Path.Combine(bed.RepoFolder, "blobs", id))) { using var content = file.Open(); content.CopyTo(blob); }
            File.CreateSymbolicLink(Path.Combine(snapshot, name), $"../../blobs/{id}");
        }

        var offline = await bed.ResolveAsync($"hf:{Repo}", bed.Settings(offline: true));
        Assert.Equal(snapshot, offline.Directory);
        Assert.Empty(bed.Hub.Requests);

        var online = await bed.ResolveAsync($"hf:{Repo}");
        Assert.Equal(snapshot, online.Directory);
        Assert.Equal([$"/api/models/{Repo}/revision/main"], bed.Hub.Requests.Select(r => r.Path)); // nothing fetched again
        using var model = Checkpoint.Load(online.Directory);
        Assert.Equal(TinyRepos.VitGpt2Config.DecoderWidth, model.Config.DecoderWidth);
    }

    [Fact]
    public async Task Weights_cached_in_the_other_format_are_not_downloaded_again()
    {
        await using var bed = await StartAsync(addRepo: false);
        using var original = TinyRepos.VitGpt2Model(seed: 1);
        var bin = TinyRepos.VitGpt2(model: original, weights: "pytorch_model.bin").Single(f => f.Name == "pytorch_model.bin");
        var commit = bed.Hub.AddRepo(Repo, [.. VitGpt2Files.Value, bin]); // both formats, like repositories that gained a safetensors file later
        // A Python user's cache with the .bin only.
        var snapshot = Directory.CreateDirectory(Path.Combine(bed.RepoFolder, "snapshots", commit)).FullName;
        Directory.CreateDirectory(Path.Combine(bed.RepoFolder, "refs"));
        File.WriteAllText(Path.Combine(bed.RepoFolder, "refs", "main"), commit);
        foreach (var file in VitGpt2Files.Value.Where(f => f.Name.EndsWith(".json", StringComparison.Ordinal)).Append(bin))
        {
            using var target = File.Create(Path.Combine(snapshot, file.Name));
            using var content = file.Open();
            content.CopyTo(target);
        }

        var model = await bed.ResolveAsync($"hf:{Repo}");

        Assert.Equal(0, bed.Hub.RequestsFor(Weights));
        Assert.Equal(0, bed.Hub.RequestsFor("pytorch_model.bin"));
        using var loaded = Checkpoint.Load(model.Directory);
        var p = ImportPlan.TensorsOf(loaded);
        Assert.True(ImportPlan.TensorsOf(original)["decoder.transformer.h.0.mlp.c_fc.weight"].equal(p["decoder.transformer.h.0.mlp.c_fc.weight"]).all().item<bool>());
    }

    [Fact]
    public async Task A_transfer_cut_in_the_middle_resumes_with_a_range_request()
    {
        await using var bed = await StartAsync();
        long half = bed.File(Weights).Length / 2;
        bed.Hub.CutNext(Weights, half);

        var model = await bed.ResolveAsync($"hf:{Repo}");

        var gets = bed.Hub.Requests.Where(r => r.Method == "GET" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        long from = long.Parse(gets[1].Range![6..^1]); // "bytes=N-": from what arrived before the cut (at most half)
        Assert.InRange(from, 1, half);
        Assert.Equal(206, gets[1].Status);
        using var loaded = Checkpoint.Load(model.Directory); // complete and checked
    }

    [Fact]
    public async Task A_run_that_died_mid_transfer_leaves_only_an_incomplete_blob_and_the_next_run_resumes_it()
    {
        await using var bed = await StartAsync();
        var weights = bed.File(Weights);
        long cut = weights.Length / 3;
        bed.Hub.CutNext(Weights, cut);
        var once = new RetryPolicy(1, TimeSpan.Zero, TimeSpan.Zero);

        var e = await Assert.ThrowsAsync<HubException>(() => bed.ResolveAsync($"hf:{Repo}", retry: once));
        Assert.Equal(HubErrorKind.Unavailable, e.Kind);
        var snapshot = Path.Combine(bed.RepoFolder, "snapshots", bed.Commit);
        Assert.False(File.Exists(Path.Combine(snapshot, Weights)), "nothing half-written under snapshots/");
        Assert.False(File.Exists(Path.Combine(bed.RepoFolder, "blobs", weights.Sha256)));
        long arrived = new FileInfo(Path.Combine(bed.RepoFolder, "blobs", weights.Sha256 + ".incomplete")).Length;
        Assert.InRange(arrived, 1, cut); // what reached us before the connection dropped

        int before = bed.Hub.Requests.Count;
        var model = await bed.ResolveAsync($"hf:{Repo}");
        Assert.True(File.Exists(Path.Combine(model.Directory, Weights)));
        var resumed = Assert.Single(bed.Hub.Requests.Skip(before), r => r.Path.StartsWith("/lfs/", StringComparison.Ordinal));
        Assert.Equal($"bytes={arrived}-", resumed.Range);
        Assert.Equal(weights.Length, new FileInfo(Path.Combine(bed.RepoFolder, "blobs", weights.Sha256)).Length);
    }

    [Fact]
    public async Task Corrupted_bytes_are_refused_and_fetched_again_and_twice_corrupted_is_one_clear_line()
    {
        await using var bed = await StartAsync();
        bed.Hub.CorruptNext(Weights);
        var model = await bed.ResolveAsync($"hf:{Repo}");
        Assert.Equal(2, bed.Hub.TransfersOf(Weights));
        using (Checkpoint.Load(model.Directory)) { }

        await using var bed2 = await StartAsync();
        bed2.Hub.CorruptNext(Weights, times: 2);
        var e = await Assert.ThrowsAsync<HubException>(() => bed2.ResolveAsync($"hf:{Repo}"));
        Assert.Equal(HubErrorKind.Checksum, e.Kind);
        Assert.StartsWith($"hf:{Repo}: {Weights} failed its checksum twice (the content's hash is ", e.Message);
        Assert.EndsWith($", not {bed2.File(Weights).Sha256}); nothing was cached", e.Message);
        var blobs = Path.Combine(bed2.RepoFolder, "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, bed2.File(Weights).Sha256)));
        Assert.Empty(Directory.GetFiles(blobs, "*.incomplete"));
        Assert.False(File.Exists(Path.Combine(bed2.RepoFolder, "snapshots", bed2.Commit, Weights)));
    }

    [Fact]
    public async Task A_revision_pinned_by_commit_gets_that_commit_and_needs_no_network_once_cached()
    {
        await using var bed = await StartAsync();
        var old = bed.Commit;
        using var newer = TinyRepos.VitGpt2Model(seed: 7);
        var latest = bed.Hub.Push(Repo, TinyRepos.VitGpt2(model: newer));

        var pinned = await bed.ResolveAsync($"hf:{Repo}@{old}");
        var main = await bed.ResolveAsync($"hf:{Repo}");
        Assert.Equal(old, pinned.Hub!.Commit);
        Assert.Equal(latest, main.Hub!.Commit);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(pinned.Directory, Weights)), File.ReadAllBytes(Path.Combine(main.Directory, Weights)));
        Assert.Equal(latest, File.ReadAllText(Path.Combine(bed.RepoFolder, "refs", "main")));
        Assert.False(File.Exists(Path.Combine(bed.RepoFolder, "refs", old)), "a commit needs no ref");
        // Unchanged files are not downloaded again for the new commit: the same blob is linked.
        Assert.Equal(1, bed.Hub.Requests.Count(r => r.Method == "GET" && r.Path.EndsWith("/vocab.json", StringComparison.Ordinal)));

        int before = bed.Hub.Requests.Count;
        Assert.Equal(pinned, await bed.ResolveAsync($"hf:{Repo}@{old}"));
        Assert.Equal(before, bed.Hub.Requests.Count);
    }

    [Fact]
    public async Task Two_pulls_of_one_model_at_once_download_it_once_and_both_get_it()
    {
        await using var bed = await StartAsync();
        var hold = bed.Hub.HoldNext(Weights, bed.File(Weights).Length / 4);
        var waiting = new ProgressLog();

        var first = bed.ResolveAsync($"hf:{Repo}");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(30)); // the first holds the blob's lock, a quarter through
        var second = bed.ResolveAsync($"hf:{Repo}", progress: waiting); // another ModelSource: its own lock handle, like another process
        // It waits for the other's lock, showing the other's .incomplete as its progress.
        Assert.True(await waiting.WaitForAsync(r => r.OtherProcess && r.File == Weights && r.Bytes > 0, TimeSpan.FromSeconds(30)));
        await Task.Delay(300);
        Assert.False(second.IsCompleted);
        hold.Release();

        var (a, b) = (await first, await second);
        Assert.Equal(a, b);
        Assert.Equal(1, bed.Hub.Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal)));
        using (Checkpoint.Load(a.Directory)) { }
    }

    [Fact]
    public async Task The_token_goes_to_the_endpoint_only_and_relative_locations_and_renamed_repositories_are_followed()
    {
        await using var bed = await StartAsync();
        await bed.ResolveAsync($"hf:{Repo}", bed.Settings(token: FakeHub.GoodToken));
        Assert.All(bed.Hub.Requests.Where(r => r.Host == "127.0.0.1"), r => Assert.Equal($"Bearer {FakeHub.GoodToken}", r.Authorization));
        var lfs = Assert.Single(bed.Hub.Requests, r => r.Path.StartsWith("/lfs/", StringComparison.Ordinal));
        Assert.Equal("localhost", lfs.Host);
        Assert.Null(lfs.Authorization);

        await using var moved = await StartAsync();
        moved.Hub.RelativeLfsLocation = true;
        moved.Hub.Rename("old-owner/vit-gpt2", Repo); // the Hub redirects a renamed repository's old name (relative Location)
        var model = await moved.ResolveAsync("hf:old-owner/vit-gpt2");
        Assert.Contains(moved.Hub.Requests, r => r.Status == 307 && r.Path.StartsWith("/api/models/old-owner/", StringComparison.Ordinal));
        Assert.Contains(moved.Hub.Requests, r => r.Status == 307 && r.Path.StartsWith("/old-owner/vit-gpt2/resolve/", StringComparison.Ordinal));
        Assert.Contains(moved.Hub.Requests, r => r.Host == "127.0.0.1" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal));
        Assert.StartsWith(Path.Combine(moved.Cache, "models--old-owner--vit-gpt2"), model.Directory); // cached under the name asked for
        using (Checkpoint.Load(model.Directory)) { }
    }
}
