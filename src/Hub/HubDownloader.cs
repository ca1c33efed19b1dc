namespace CaptionService.Hub;

/// <summary>
/// Opens a repository revision for fetching (<see cref="HubSnapshot"/>), as huggingface_hub would: with
/// HF_HUB_OFFLINE from the cache alone; a commit hash whose cached snapshot already has what is needed without
/// any network call; otherwise the Hub says which commit the revision is and what files it has (and refs/ records
/// it). When the Hub cannot be reached at all, a revision cached before is used, with a warning.
/// </summary>
public sealed class HubDownloader(HubClient client, Action<string>? warn = null)
{
    public HubCache Cache { get; } = new(client.Settings.CacheDirectory);

    public HubSettings Settings => client.Settings;

    /// <param name="cachedIsEnough">given a cached snapshot's files, whether they are all that is needed</param>
    public async Task<HubSnapshot> OpenAsync(ModelReference repo, Func<IReadOnlyList<string>, bool> cachedIsEnough, CancellationToken cancel)
    {
        var revision = repo.RevisionOrDefault;
        if (Settings.Offline)
            return Cached(repo, "HF_HUB_OFFLINE is set") ?? throw new HubException(HubErrorKind.Offline,
                $"{repo}: not in the Hugging Face cache ({Cache.Root}) and HF_HUB_OFFLINE is set; run once with network access or unset HF_HUB_OFFLINE");
        if (ModelReference.IsCommit(revision) && Cached(repo, "") is { } pinned && cachedIsEnough(pinned.Files))
            return new HubSnapshot(repo, pinned.Commit, pinned.Files, Cache, client); // a commit never changes: no need to ask

        RepoRevision info;
        try
        {
            info = await client.GetRevisionAsync(repo, cancel);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.Unavailable && Cached(repo, $"the Hub could not be reached ({e.Message})") is { } fallback)
        {
            warn?.Invoke($"{e.Message}; using the cached commit {fallback.Commit}");
            return fallback;
        }
        Cache.WriteRef(repo, revision, info.Commit);
        return new HubSnapshot(repo, info.Commit, info.Files, Cache, client);
    }

    /// <summary>The cached snapshot the revision names, from the cache alone; null when there is none.</summary>
    private HubSnapshot? Cached(ModelReference repo, string reason)
    {
        var commit = Cache.CommitOf(repo, repo.RevisionOrDefault);
        if (commit is null) return null;
        var files = Cache.FilesOf(repo, commit);
        return files.Count == 0 ? null : new HubSnapshot(repo, commit, files, Cache, null, reason);
    }
}
