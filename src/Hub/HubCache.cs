namespace CaptionService.Hub;

/// <summary>
/// huggingface_hub's cache, exactly: per repository <c>models--OWNER--NAME/</c> with <c>blobs/{etag}</c> (the
/// files' bytes), <c>snapshots/{commit}/{path}</c> (relative symbolic links to the blobs) and
/// <c>refs/{revision}</c> (the commit a branch or tag pointed to); downloads grow in <c>blobs/{etag}.incomplete</c>
/// under the lock <c>.locks/models--OWNER--NAME/{etag}.lock</c>, which huggingface_hub takes too (flock). A file
/// appears under snapshots/ only once its blob is complete and checked.
/// </summary>
public sealed class HubCache(string root)
{
    public string Root { get; } = root;

    public string RepoFolder(ModelReference repo) => Path.Combine(Root, FolderName(repo));

    public string SnapshotFolder(ModelReference repo, string commit) => Path.Combine(RepoFolder(repo), "snapshots", commit);

    public string BlobPath(ModelReference repo, string etag) => Path.Combine(RepoFolder(repo), "blobs", etag);

    public string IncompletePath(ModelReference repo, string etag) => BlobPath(repo, etag) + ".incomplete";

    public string LockPath(ModelReference repo, string etag) => Path.Combine(Root, ".locks", FolderName(repo), etag + ".lock");

    /// <summary>The commit <paramref name="revision"/> means here: itself when it is a commit hash, else what refs/ recorded.</summary>
    public string? CommitOf(ModelReference repo, string revision)
    {
        if (ModelReference.IsCommit(revision)) return revision;
        var path = Path.Combine(RepoFolder(repo), "refs", revision);
        return File.Exists(path) && File.ReadAllText(path).Trim() is var commit && ModelReference.IsCommit(commit) ? commit : null;
    }

    /// <summary>Records the commit a branch or tag points to (atomically; nothing for a commit hash).</summary>
    public void WriteRef(ModelReference repo, string revision, string commit)
    {
        if (revision == commit || CommitOf(repo, revision) == commit) return;
        var path = Path.Combine(RepoFolder(repo), "refs", revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, commit);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The file in the snapshot, when it is there and its blob too (a link to a missing blob does not count).</summary>
    public string? CachedFile(ModelReference repo, string commit, string file)
    {
        var path = Path.Combine(SnapshotFolder(repo, commit), file);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Every file of a cached snapshot, as repository paths ('/' separated).</summary>
    public IReadOnlyList<string> FilesOf(ModelReference repo, string commit)
    {
        var folder = SnapshotFolder(repo, commit);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(File.Exists) // skips links to missing blobs
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Links <c>snapshots/{commit}/{file}</c> to its blob with a relative symbolic link, as huggingface_hub does
    /// (replacing whatever was there in one rename). Where links cannot be made, the blob is moved there instead
    /// (huggingface_hub's fallback too).</summary>
    public string Link(ModelReference repo, string commit, string file, string etag)
    {
        var pointer = Path.Combine(SnapshotFolder(repo, commit), file);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        var blob = BlobPath(repo, etag);
        var temporary = $"{pointer}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.CreateSymbolicLink(temporary, Path.GetRelativePath(folder, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Move(blob, pointer, overwrite: true);
            return pointer;
        }
        File.Move(temporary, pointer, overwrite: true);
        return pointer;
    }

    private static string FolderName(ModelReference repo) => $"models--{repo.Owner}--{repo.Name}";
}

/// <summary>
/// An exclusive lock on a file, shared with other processes: .NET takes <c>flock(LOCK_EX)</c> for
/// <see cref="FileShare.None"/> on Unix, as Python's filelock (used by huggingface_hub) does, so the two exclude each other.
/// </summary>
internal sealed class FileLock : IDisposable
{
    private readonly FileStream stream;

    private FileLock(FileStream stream) => this.stream = stream;

    /// <param name="waiting">called about every 200 ms while another holder has it</param>
    public static async Task<FileLock> AcquireAsync(string path, Action waiting, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (e.HResult is 11 or 35 or unchecked((int)0x80070020)) // EWOULDBLOCK (Linux, macOS), a sharing violation
            {
                waiting(); // held by someone else
                await Task.Delay(200, cancel);
            }
        }
    }

    public void Dispose() => stream.Dispose();
}
