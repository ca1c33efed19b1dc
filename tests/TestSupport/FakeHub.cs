using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CaptionService.TestSupport;

/// <summary>A file in a repository: its bytes (from memory or a file on disk) and both ids the Hub gives it.</summary>
public sealed class HubFile
{
    private readonly byte[]? bytes;
    private readonly string? path;

    private HubFile(string name, byte[]? bytes, string? path, long length, string sha256, string gitSha1) =>
        (Name, this.bytes, this.path, Length, Sha256, GitSha1) = (name, bytes, path, length, sha256, gitSha1);

    public string Name { get; }
    public long Length { get; }
    /// <summary>The LFS object id (X-Linked-Etag of a large file).</summary>
    public string Sha256 { get; }
    /// <summary>The git blob id (ETag of a small file): sha1("blob {length}\0" + content).</summary>
    public string GitSha1 { get; }

    public static HubFile FromBytes(string name, byte[] content) =>
        new(name, content, null, content.Length, Convert.ToHexStringLower(SHA256.HashData(content)), GitBlobSha1(content));

    public static HubFile FromText(string name, string text) => FromBytes(name, Encoding.UTF8.GetBytes(text));

    /// <summary>A large file served from disk (hashed once here).</summary>
    public static HubFile FromPath(string name, string file)
    {
        using var stream = File.OpenRead(file);
        var sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        return new HubFile(name, null, file, new FileInfo(file).Length, sha, new string('0', 40)); // large files are only served through LFS
    }

    public Stream Open() => bytes is not null ? new MemoryStream(bytes, writable: false) : File.OpenRead(path!);

    private static string GitBlobSha1(byte[] content)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {content.Length}\0"));
        sha1.AppendData(content);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }
}

/// <summary>One request the fake Hub received (recorded as it arrives; <see cref="Status"/> once answered).</summary>
public sealed record HubRequest(string Method, string Path, string? Range, string? Authorization, string Host)
{
    public int Status { get; set; }
}

/// <summary>
/// A Hugging Face Hub on 127.0.0.1 (Kestrel, a free port) speaking the protocol huggingface_hub uses:
/// <c>/api/models/{repo}/revision/{rev}</c> (sha + siblings), <c>HEAD|GET /{repo}/resolve/{rev}/{file}</c> answering
/// small files with 200 + <c>ETag</c> (git blob sha1) and large ones (weights) with 302 + <c>X-Linked-Etag</c>
/// (sha256), <c>X-Linked-Size</c> and a <c>Location</c> on <c>/lfs/{sha256}</c> (absolute, on the host name
/// "localhost" so it differs from the endpoint's, or relative), which honours <c>Range</c>; <c>X-Repo-Commit</c>
/// everywhere; <c>X-Error-Code</c>/<c>X-Error-Message</c> on failures, with the Hub's status codes for private,
/// gated and missing repositories. Faults can be injected (cut a transfer, corrupt it, hold it, fail with a
/// status), and every request is recorded.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    public const string GoodToken = "hf_test_token_with_access";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, Repo> repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> renamed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HubFile> lfs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<Fault> faults = new();

    private FakeHub(WebApplication app) => this.app = app;

    public Uri Endpoint { get; private set; } = null!;
    public int Port => Endpoint.Port;
    public ConcurrentQueue<HubRequest> Requests { get; } = new();

    /// <summary>Location on LFS redirects: absolute on "localhost" (another host than the endpoint's 127.0.0.1), or relative.</summary>
    public bool RelativeLfsLocation { get; set; }

    public static async Task<FakeHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var hub = new FakeHub(builder.Build());
        hub.app.Run(hub.HandleAsync);
        await hub.app.StartAsync();
        var address = hub.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        hub.Endpoint = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return hub;
    }

    /// <summary>Adds a repository whose branch <c>main</c> points at a commit holding <paramref name="files"/>.</summary>
    /// <returns>the commit hash</returns>
    public string AddRepo(string repoId, IEnumerable<HubFile> files, bool gated = false, bool isPrivate = false)
    {
        var repo = repos.GetOrAdd(repoId, _ => new Repo(gated, isPrivate));
        return repo.Commit(files, "main");
    }

    /// <summary>A new commit on <c>main</c> (the old one stays reachable by its hash).</summary>
    public string Push(string repoId, IEnumerable<HubFile> files) => repos[repoId].Commit(files, "main");

    /// <summary>Requests for <paramref name="oldId"/> answer with a relative redirect to <paramref name="newId"/>, as for a renamed repository.</summary>
    public void Rename(string oldId, string newId) => renamed[oldId] = newId;

    /// <summary>The next <paramref name="times"/> transfers of the LFS file <paramref name="file"/> stop after <paramref name="bytes"/>
    /// bytes with the connection aborted.</summary>
    public void CutNext(string file, long bytes, int times = 1) => faults.Enqueue(new Fault(FaultKind.Cut, file, bytes, times));

    /// <summary>The next transfers of <paramref name="file"/> send one wrong byte.</summary>
    public void CorruptNext(string file, int times = 1) => faults.Enqueue(new Fault(FaultKind.Corrupt, file, 0, times));

    /// <summary>The next requests whose path contains <paramref name="pathPart"/> answer <paramref name="status"/>.</summary>
    public void FailNext(string pathPart, int status, int times = 1, int? retryAfterSeconds = null) =>
        faults.Enqueue(new Fault(FaultKind.Status, pathPart, status, times) { RetryAfter = retryAfterSeconds });

    /// <summary>The next transfer of <paramref name="file"/> pauses after <paramref name="bytes"/> bytes until the returned
    /// source is completed.</summary>
    public TransferHold HoldNext(string file, long bytes)
    {
        var hold = new TransferHold();
        faults.Enqueue(new Fault(FaultKind.Hold, file, bytes, 1) { Hold = hold });
        return hold;
    }

    /// <summary>GETs of the LFS bytes of <paramref name="file"/> (any repository).</summary>
    public int TransfersOf(string file) =>
        Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal) && lfs.TryGetValue(r.Path[5..], out var f) && f.Name == file);

    /// <summary>Requests of any kind for a file of a repository (API calls excluded).</summary>
    public int RequestsFor(string file) => Requests.Count(r => r.Path.EndsWith("/" + file, StringComparison.Ordinal) ||
        r.Path.StartsWith("/lfs/", StringComparison.Ordinal) && lfs.TryGetValue(r.Path[5..], out var f) && f.Name == file);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var segments = (request.Path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        var record = new HubRequest(request.Method, request.Path.Value ?? "", request.Headers.Range.FirstOrDefault(),
            request.Headers.Authorization.FirstOrDefault(), request.Host.Host);
        Requests.Enqueue(record);
        try
        {
            if (TakeFault(FaultKind.Status, request.Path.Value ?? "") is { } failure)
            {
                if (failure.RetryAfter is int seconds) context.Response.Headers.RetryAfter = seconds.ToString();
                context.Response.StatusCode = (int)failure.Amount;
            }
            else if (segments is ["api", "models", var owner, var name, "revision", .. var rev] && rev.Length > 0)
                await RevisionInfo(context, $"{owner}/{name}", string.Join('/', rev));
            else if (segments is [var o, var n, "resolve", var revision, .. var file] && file.Length > 0)
                await Resolve(context, $"{o}/{n}", revision, string.Join('/', file));
            else if (segments is ["lfs", var sha])
                await ServeLfs(context, sha);
            else
                context.Response.StatusCode = 404;
        }
        finally
        {
            record.Status = context.Response.StatusCode;
        }
    }

    private async Task RevisionInfo(HttpContext context, string repoId, string revision)
    {
        if (renamed.TryGetValue(repoId, out var newId))
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = $"/api/models/{newId}/revision/{Uri.EscapeDataString(revision)}";
            return;
        }
        if (Access(context, repoId, api: true) is not { } repo) return;
        if (repo.Find(revision) is not { } commit) { Error(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}"); return; }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            id = repoId,
            sha = commit.Sha,
            siblings = commit.Files.Keys.Order(StringComparer.Ordinal).Select(f => new { rfilename = f }),
        }));
    }

    private async Task Resolve(HttpContext context, string repoId, string revision, string file)
    {
        if (renamed.TryGetValue(repoId, out var newId))
        {
            context.Response.StatusCode = 307;
            context.Response.Headers.Location = $"/{newId}/resolve/{Uri.EscapeDataString(revision)}/{file}";
            return;
        }
        if (Access(context, repoId, api: false) is not { } repo) return;
        if (repo.Find(revision) is not { } commit) { Error(context, 404, "RevisionNotFound", $"Invalid rev id: {revision}"); return; }
        var headers = context.Response.Headers;
        headers["X-Repo-Commit"] = commit.Sha;
        if (!commit.Files.TryGetValue(file, out var content)) { Error(context, 404, "EntryNotFound", $"{file} does not exist on \"{revision}\""); return; }

        if (IsLfs(file))
        {
            lfs[content.Sha256] = content;
            context.Response.StatusCode = 302;
            headers["X-Linked-Etag"] = $"\"{content.Sha256}\"";
            headers["X-Linked-Size"] = content.Length.ToString();
            headers.ETag = $"\"{content.GitSha1}\"";
            headers.Location = RelativeLfsLocation ? $"/lfs/{content.Sha256}" : $"http://localhost:{Port}/lfs/{content.Sha256}";
            return;
        }
        headers.ETag = $"\"{content.GitSha1}\"";
        context.Response.ContentLength = content.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await using var stream = content.Open();
            await stream.CopyToAsync(context.Response.Body);
        }
    }

    private async Task ServeLfs(HttpContext context, string sha)
    {
        if (!lfs.TryGetValue(sha, out var file)) { context.Response.StatusCode = 404; return; }
        long from = 0;
        if (context.Request.Headers.Range.FirstOrDefault() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
            from = long.Parse(range["bytes=".Length..^1]);
        if (from >= file.Length && from > 0)
        {
            context.Response.StatusCode = 416;
            context.Response.Headers.ContentRange = $"bytes */{file.Length}";
            return;
        }
        context.Response.Headers.AcceptRanges = "bytes";
        if (from > 0)
        {
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {from}-{file.Length - 1}/{file.Length}";
        }
        context.Response.ContentLength = file.Length - from;
        if (!HttpMethods.IsGet(context.Request.Method)) return;

        var cut = TakeFault(FaultKind.Cut, file.Name);
        var corrupt = TakeFault(FaultKind.Corrupt, file.Name);
        var hold = TakeFault(FaultKind.Hold, file.Name);
        await using var stream = file.Open();
        stream.Position = from;
        var buffer = new byte[256 * 1024];
        long sent = 0;
        bool corrupted = false;
        while (true)
        {
            int want = buffer.Length;
            if (cut is not null) want = (int)Math.Min(want, cut.Amount - sent);
            if (hold is not null && sent < hold.Amount) want = (int)Math.Min(want, hold.Amount - sent);
            if (want <= 0 && cut is not null)
            {
                await context.Response.Body.FlushAsync();
                context.Abort(); // the connection drops mid-transfer
                return;
            }
            if (hold is not null && sent == hold.Amount)
            {
                await context.Response.Body.FlushAsync();
                hold.Hold!.Reach();
                await hold.Hold.Released.WaitAsync(context.RequestAborted);
                hold = null;
                continue;
            }
            int n = await stream.ReadAsync(buffer.AsMemory(0, want));
            if (n == 0) return;
            if (corrupt is not null && !corrupted)
            {
                buffer[0] ^= 0xFF;
                corrupted = true;
            }
            await context.Response.Body.WriteAsync(buffer.AsMemory(0, n));
            sent += n;
        }
    }

    /// <summary>The Hub's answers about access: private and missing repositories look the same (401 anonymous, 404 with a token);
    /// a gated repository's files need a token with access (401 anonymous, 403 with another token).</summary>
    private Repo? Access(HttpContext context, string repoId, bool api)
    {
        var auth = context.Request.Headers.Authorization.FirstOrDefault();
        bool anonymous = auth is null;
        bool granted = auth == $"Bearer {GoodToken}";
        if (auth is not null && !auth.StartsWith("Bearer hf_", StringComparison.Ordinal))
        {
            Error(context, 401, null, "Invalid credentials in Authorization header");
            return null;
        }
        if (!repos.TryGetValue(repoId, out var repo) || repo.Private && !granted)
        {
            Error(context, anonymous ? 401 : 404, "RepoNotFound", $"Repository Not Found for url: {context.Request.Path}.");
            return null;
        }
        if (repo.Gated && !api && !granted)
        {
            Error(context, anonymous ? 401 : 403, "GatedRepo", $"Access to model {repoId} is restricted. You must have access to it and be authenticated to access it.");
            return null;
        }
        return repo;
    }

    private static void Error(HttpContext context, int status, string? code, string message)
    {
        context.Response.StatusCode = status;
        if (code is not null) context.Response.Headers["X-Error-Code"] = code;
        context.Response.Headers["X-Error-Message"] = message;
    }

    private static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);

    private Fault? TakeFault(FaultKind kind, string subject)
    {
        foreach (var fault in faults)
            if (fault.Kind == kind && subject.Contains(fault.Subject, StringComparison.Ordinal) && fault.TryTake()) return fault;
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var fault in faults) fault.Hold?.Release();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private enum FaultKind { Cut, Corrupt, Status, Hold }

    private sealed record Fault(FaultKind Kind, string Subject, long Amount, int Times)
    {
        private int left = Times;
        public int? RetryAfter { get; init; }
        public TransferHold? Hold { get; init; }
        public bool TryTake() => Interlocked.Decrement(ref left) >= 0;
    }

    private sealed class Repo(bool gated, bool isPrivate)
    {
        private readonly List<Commit> commits = [];
        private readonly Dictionary<string, string> branches = [];

        public bool Gated { get; } = gated;
        public bool Private { get; } = isPrivate;

        public string Commit(IEnumerable<HubFile> files, string branch)
        {
            lock (commits)
            {
                var sha = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{commits.Count}:{Guid.NewGuid()}")));
                commits.Add(new Commit(sha, files.ToDictionary(f => f.Name)));
                branches[branch] = sha;
                return sha;
            }
        }

        public Commit? Find(string revision)
        {
            lock (commits)
            {
                var sha = branches.GetValueOrDefault(revision) ?? revision;
                return commits.FirstOrDefault(c => c.Sha == sha);
            }
        }
    }

    private sealed record Commit(string Sha, Dictionary<string, HubFile> Files);
}

/// <summary>A transfer paused part-way (<see cref="FakeHub.HoldNext"/>): <see cref="Reached"/> completes when it gets
/// there; <see cref="Release"/> lets it go on.</summary>
public sealed class TransferHold
{
    private readonly TaskCompletionSource reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Reached => reached.Task;
    public Task Released => released.Task;
    public void Release() => released.TrySetResult();
    internal void Reach() => reached.TrySetResult();
}
