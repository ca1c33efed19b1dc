using System.Diagnostics;

namespace CaptionService.Hub;

/// <summary>
/// One commit of a repository, opened for fetching files into the cache (huggingface_hub's
/// <c>snapshot_download</c> with a chosen list of files). <see cref="Files"/> lists what the repository has
/// (or, offline, what the cache has); <see cref="FetchAsync"/> brings files into <see cref="Folder"/>.
/// </summary>
public sealed class HubSnapshot
{
    private readonly HubClient? client; // null: from the cache only, for the reason given
    private readonly HubCache cache;
    private readonly string? cacheOnly;

    internal HubSnapshot(ModelReference repo, string commit, IReadOnlyList<string> files, HubCache cache, HubClient? client, string? cacheOnly = null)
    {
        (Repo, Commit, Files, this.cache, this.client, this.cacheOnly) = (repo, commit, files, cache, client, cacheOnly);
        Folder = cache.SnapshotFolder(repo, commit);
    }

    public ModelReference Repo { get; }
    public string Commit { get; }
    public IReadOnlyList<string> Files { get; }
    public string Folder { get; }

    /// <summary>True when no network is used (HF_HUB_OFFLINE, a pinned commit already cached, or a Hub that cannot be reached).</summary>
    public bool FromCache => client is null;

    public bool Has(string file) => Files.Contains(file);

    /// <summary>
    /// Makes each file present under <see cref="Folder"/>: already there, or its blob already cached (another commit
    /// or a run that stopped before linking), or downloaded under the blob's lock (resuming an <c>.incomplete</c>,
    /// checked against its sha256 before it enters the cache; a mismatch is fetched once more from scratch).
    /// </summary>
    public async Task FetchAsync(IReadOnlyList<string> files, IProgress<HubProgress>? progress, CancellationToken cancel)
    {
        var missing = files.Where(f => cache.CachedFile(Repo, Commit, f) is null).ToList();
        if (missing.Count == 0) return;
        if (client is null)
            throw new HubException(HubErrorKind.Offline, $"{Repo}: {string.Join(", ", missing)} not in the Hugging Face cache ({cache.Root}) " +
                $"at commit {Commit}, and {cacheOnly}");

        var metadata = new List<FileMetadata>(); // sizes first, for a total
        foreach (var file in missing) metadata.Add(await client.GetMetadataAsync(Repo, Commit, file, cancel));
        var report = new Reporter(Repo.RepoId, metadata.Sum(m => m.Size), progress);

        foreach (var file in metadata)
        {
            var blob = cache.BlobPath(Repo, file.ETag);
            if (!File.Exists(blob))
            {
                var incomplete = cache.IncompletePath(Repo, file.ETag);
                long start = report.Bytes;
                using (await FileLock.AcquireAsync(cache.LockPath(Repo, file.ETag),
                           () => report.Other(file.File, start + (File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0)), cancel))
                {
                    if (!File.Exists(blob)) await DownloadAsync(file, incomplete, blob, report, cancel); // else another process finished it
                }
                report.Set(file.File, start + file.Size);
            }
            else report.Add(file.File, file.Size);
            cache.Link(Repo, Commit, file.File, file.ETag);
        }
        report.Done();
    }

    private async Task DownloadAsync(FileMetadata file, string incomplete, string blob, Reporter report, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        for (int attempt = 1; ; attempt++)
        {
            long had = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            report.Resumed(file.File, had);
            try
            {
                await client!.DownloadAsync(Repo, file, incomplete, n => report.Add(file.File, n, transferred: n > 0), cancel);
                File.Move(incomplete, blob, overwrite: true); // complete and checked: into the cache in one rename
                return;
            }
            catch (ChecksumMismatchException e)
            {
                report.Add(file.File, -new FileInfo(incomplete).Length);
                File.Delete(incomplete); // never enters the cache; a resumed part may have been the bad one, so once more from scratch
                if (attempt == 2)
                    throw new HubException(HubErrorKind.Checksum, $"{Repo}: {file.File} failed its checksum twice ({e.Message}); nothing was cached", e);
            }
        }
    }

    /// <summary>Throttled progress: at most every 100 ms, and once at the end.</summary>
    private sealed class Reporter(string repo, long total, IProgress<HubProgress>? progress)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private long transferred;
        private long lastReport = -1;
        private string file = "";

        public long Bytes { get; private set; }

        public void Add(string name, long bytes, bool transferred = false)
        {
            (file, Bytes) = (name, Bytes + bytes);
            if (transferred) this.transferred += bytes;
            Maybe();
        }

        /// <summary>Bytes an interrupted run left in the .incomplete file: done, but not transferred now.</summary>
        public void Resumed(string name, long bytes) => Add(name, bytes);

        public void Set(string name, long bytes) => Add(name, bytes - Bytes);

        /// <summary>Another process holds the lock: its .incomplete file tells how far it got.</summary>
        public void Other(string name, long bytes)
        {
            (file, Bytes) = (name, bytes);
            Send(otherProcess: true);
        }

        public void Done() => Send();

        private void Maybe()
        {
            if (clock.ElapsedMilliseconds - lastReport >= 100) Send();
        }

        private void Send(bool otherProcess = false)
        {
            lastReport = clock.ElapsedMilliseconds;
            double seconds = clock.Elapsed.TotalSeconds;
            progress?.Report(new HubProgress(repo, file, Math.Clamp(Bytes, 0, total), total, seconds > 0.2 ? transferred / seconds : 0, otherProcess));
        }
    }
}
